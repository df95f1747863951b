"""Cryptographic building blocks: hashing and pluggable signature suites."""
