"""Contracts: the framework (base, context) and the built-in contracts."""
