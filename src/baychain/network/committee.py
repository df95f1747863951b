"""The founding consortium of a local network: its committee keys and its CA.

A consortium's genesis names the committee that governs it (`app_state.governance`):
one account per founding organisation. On four machines each organisation makes its
own key and only the address travels (`baychain net genesis --member`). A local
network made by `baychain net init` plays all four organisations on one machine, so
it also holds all four committee keys, in `<network dir>/keys/<node name>.json`,
encrypted with `LOCAL_PASSPHRASE`: a development network's keys, never a production
committee's. With them `baychain net add-node` (and friends) can propose a change and
cast every vote in one command. The regulator member's committee account also gets
the regulators' expedited powers (`app_state.policy.regulators`).

It also holds the consortium's certificate authority in `<network dir>/ca` (the same
layout `baychain ca` manages): a root CA and one organisation CA per member, tagged
with the member's jurisdiction and role, registered in `app_state.identity`. Users of
each organisation get certificates with `baychain ca issue --dir <network dir>/ca`
and bind them on chain; with `required` the chain admits only bound keys.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from baychain.identity.store import CADirectory

from baychain.network.members import Member
from baychain.sdk.keys import Key

LOCAL_PASSPHRASE = "baychain-local-network"
KEYS_DIR = "keys"
CA_DIR = "ca"
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


def create_ca(directory: Path, members: list[Member], *, now: datetime, required: bool = False) -> dict[str, Any]:
    """A root CA and one organisation CA per member organisation in `directory/ca`; the
    genesis `app_state.identity` that registers them."""
    ca = CADirectory(Path(directory) / CA_DIR)
    ca.init_root("GBA Consortium Root CA", LOCAL_PASSPHRASE, now=now)
    seen: set[str] = set()
    for member in members:
        if member.organisation in seen:
            continue
        seen.add(member.organisation)
        ca.init_org(member.organisation, member.jurisdiction, member.role, LOCAL_PASSPHRASE, now=now)
    return ca.genesis_identity(required=required)
