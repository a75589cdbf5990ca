"""Benchmark scenario storage-download-1g (Python client); see storage_transfer.py."""

from storage_transfer import main

main("storage-download-1g")
