"""Benchmark scenario blob-upload-1g (Python client); see blob_transfer.py."""

from blob_transfer import main

main("blob-upload-1g")
