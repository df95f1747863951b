"""The founding committee of a local network, and its keys.

A consortium's genesis names the committee that governs it (`app_state.governance`):
one account per founding organisation. On four machines each organisation makes its
own key and only the address travels (`baychain net genesis --member`). A local
network made by `baychain net init` plays all four organisations on one machine, so
it also holds all four committee keys, in `<network dir>/keys/<node name>.json`,
encrypted with `LOCAL_PASSPHRASE`: a development network's keys, never a production
committee's. With them `baychain net add-node` (and friends) can propose a change and
cast every vote in one command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from baychain.network.members import Member
from baychain.sdk.keys import Key

LOCAL_PASSPHRASE = "baychain-local-network"
KEYS_DIR = "keys"
_SCRYPT_N = 2**14  # local keys: quick to open, still encrypted at rest


def create_committee(directory: Path, members: list[Member]) -> list[dict[str, Any]]:
    """Make one committee key per member in `directory/keys`; the genesis committee entries."""
    keys_dir = Path(directory) / KEYS_DIR
    keys_dir.mkdir(parents=True, exist_ok=True)
    committee = []
    for member in members:
        key = Key.generate()
        key.save(keys_dir / f"{member.name}.json", LOCAL_PASSPHRASE, overwrite=True, scrypt_n=_SCRYPT_N)
        committee.append({"account": key.address, "organisation": member.organisation, "weight": 1})
    return committee


def local_committee(directory: Path) -> list[Key]:
    """The committee keys a local network holds, in node order (empty if it holds none)."""
    keys_dir = Path(directory) / KEYS_DIR
    if not keys_dir.is_dir():
        return []
    return [Key.load(p, LOCAL_PASSPHRASE) for p in sorted(keys_dir.glob("*.json"))]
