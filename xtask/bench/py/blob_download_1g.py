"""Benchmark scenario blob-download-1g (Python client); see blob_transfer.py."""

from blob_transfer import main

main("blob-download-1g")
