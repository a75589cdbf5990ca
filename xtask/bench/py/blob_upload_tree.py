"""Benchmark scenario blob-upload-tree (Python client); see blob_transfer.py."""

from blob_transfer import main

main("blob-upload-tree")
