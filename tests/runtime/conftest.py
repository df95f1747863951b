"""Fixtures of the contract runtime tests."""
