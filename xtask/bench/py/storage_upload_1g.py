"""Benchmark scenario storage-upload-1g (Python client); see storage_transfer.py."""

from storage_transfer import main

main("storage-upload-1g")
