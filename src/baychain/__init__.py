"""baychain: a consortium blockchain platform for the Greater Bay Area."""

__version__ = "0.1.0"
