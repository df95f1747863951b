"""Contract sources shipped with baychain, in the contract language.

They are read as text (`source(name)`) and run by the runtime like any deployed
contract; they are never imported as Python modules.
"""

from __future__ import annotations

from pathlib import Path

SYSTEM = ("accounts", "notary")  # built-in contracts that run on the runtime (docs/RUNTIME.md)


def notary_record_key(digest: bytes) -> str:
    """The notary contract's storage key of a digest's record (under c/notary/)."""
    return f"doc/{digest.hex()}"


def source(name: str) -> str:
    """The source of a shipped contract, e.g. `source("token")`."""
    return (Path(__file__).parent / f"{name}.py").read_text(encoding="utf-8")
