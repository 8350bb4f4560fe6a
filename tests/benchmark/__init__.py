"""Throughput benchmark: Threadcount against a naive single-transaction-per-order peer.

Run from the repository root with ``python -m tests.benchmark --help``.
"""
