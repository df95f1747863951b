"""The `baychain` command line."""
