"""Benchmark scenario storage-download-tree (Python client); see storage_transfer.py."""

from storage_transfer import main

main("storage-download-tree")
