"""Benchmark scenario storage-upload-tree (Python client); see storage_transfer.py."""

from storage_transfer import main

main("storage-upload-tree")
