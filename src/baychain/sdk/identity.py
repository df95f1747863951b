"""Certificate-bound accounts from Python: bind a key to its certificate, rotate an
account to a new key, ask whether a key would be admitted.

    bind(client, key, Path("alice.pem").read_bytes())
    rotate(client, old_key=alice, new_key=alice2, account=alice.address, new_cert=pem2)

The chain verifies the certificate itself (docs/IDENTITY.md); these helpers only build
the transactions, including the old key's approval of a rotation.
"""

from __future__ import annotations

from typing import Any

from baychain.contracts.system.identity import sign_rotation
from baychain.sdk.client import Client, Receipt
from baychain.sdk.keys import Key


def bind(client: Client, key: Key, cert: bytes, *, timeout: float = 30.0) -> dict[str, Any]:
    """Bind `key` to its user certificate (PEM or DER); the binding's summary (account, organisation, …)."""
    return client.call(key, "identity", "bind", {"cert": cert}, timeout=timeout).data


def rotate(client: Client, *, old_key: Key, new_key: Key, account: str, new_cert: bytes,
           timeout: float = 30.0) -> dict[str, Any]:
    """Move `account` to `new_key` (certified by `new_cert`), approved by the account's current key."""
    approval = sign_rotation(old_key.private_key, client.chain_id, account, new_key.public_key)
    receipt: Receipt = client.call(new_key, "identity", "rotate",
                                   {"account": account, "new_cert": new_cert, "approval": approval}, timeout=timeout)
    return receipt.data


def status(client: Client, address: str) -> dict[str, Any]:
    """Would a transaction signed by this key be admitted now? The account it acts for, or the error code."""
    return client.view("identity", "status", {"address": address})
