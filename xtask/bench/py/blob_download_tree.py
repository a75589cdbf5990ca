"""Benchmark scenario blob-download-tree (Python client); see blob_transfer.py."""

from blob_transfer import main

main("blob-download-tree")
