"""A chain with an identity registry in its genesis, driven block by block at explicit
block times, and keys that are both transaction signers and certificate holders."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from baychain.app.application import Application
from baychain.app.types import BlockRequest, InitChainRequest
from baychain.crypto.hashing import sha256
from baychain.identity import Kind, issue_leaf, to_pem
from baychain.identity.certificates import datetime_to_ns
from identity_support import T0
from governance_support import decide
from support import Signer, state_but_block

CHAIN_ID = "identity-test"
DAY = 86_400 * 10**9
START = datetime_to_ns(T0 + timedelta(days=1))  # the genesis time: everything of the test PKI is valid


def pem(cert) -> str:
    return to_pem(cert).decode()


def der(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def public_key_of(signer: Signer) -> ed25519.Ed25519PublicKey:
    return ed25519.Ed25519PublicKey.from_public_bytes(signer.public_key)


def signer_for(private_key: ed25519.Ed25519PrivateKey) -> Key:
    seed = private_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return Key(seed)


def user_cert(ca, ca_key, signer: Signer, name: str = "user", *, now: datetime = T0, days: int = 365, kind: Kind = Kind.USER):
    """A certificate from `ca` for the signer's own key."""
    return issue_leaf(ca, ca_key, name, kind, now=now, days=days, public_key=public_key_of(signer)).certificate


def identity_genesis(pki, deciders: list[str], *, required: bool = True, extra_orgs: list[dict] | None = None) -> dict:
    """An identity-required chain's app_state; `deciders` (addresses) form the governance committee."""
    return {"governance": {"members": [{"account": a, "organisation": "Committee"} for a in deciders]}, "identity": {
        "root": pem(pki.root),
        "organisations": [{"name": "Bank of Example", "jurisdiction": "HK", "role": "member", "ca": pem(pki.org)},
                          {"name": "GBA Regulator", "ca": pem(pki.regulator)}, *(extra_orgs or [])],
        "required": required,
    }}


class Key(Signer):
    """A signer on the test chain whose refused transactions give their nonce back
    (a refused transaction consumes none)."""

    by_address: dict[str, "Key"] = {}

    def __init__(self, seed: bytes | None = None) -> None:
        super().__init__(CHAIN_ID, seed)
        Key.by_address[self.address] = self


class Chain:
    """The application driven as an engine would, one block per call, at chosen times."""

    def __init__(self, path, app_state: dict, *, genesis_time: int = START) -> None:
        self.app = Application(path / "data")
        self.time = genesis_time
        self.app.init_chain(InitChainRequest(CHAIN_ID, genesis_time, 1, [], json.dumps(app_state).encode()))

    def block(self, *txs, at: int | None = None):
        height = self.app.height + 1
        self.time = at if at is not None else self.time + 10**9
        result = self.app.finalize_block(BlockRequest(height, self.time, sha256(b"%d" % height), b"p", [t.raw for t in txs]))
        self.app.commit()
        return result

    def run(self, tx, *, at: int | None = None):
        """One transaction in its own block; its result."""
        return self.block(tx, at=at).tx_results[0]

    def ok(self, tx, *, at: int | None = None):
        result = self.run(tx, at=at)
        assert result.code == 0, result
        return result

    def root(self) -> bytes:
        return self.app.info().last_app_hash

    def refused(self, tx, code, *, at: int | None = None) -> str:
        """The transaction is refused with `code` in its block (and in check_tx, which judges at the
        last block's time, unless the block has its own time `at`), and changes nothing: the block's
        state is as before (but for the block stamp every block writes) and the signer's nonce is not consumed."""
        if at is None:
            checked = self.app.check_tx(tx.raw)
            assert checked.code == int(code), checked
            self.app._mempool_nonces.clear()  # as a recheck after a commit would
        before = state_but_block(self.app)
        nonce = self.app.nonce(tx.sender)
        result = self.run(tx, at=at)
        assert result.code == int(code), result
        assert state_but_block(self.app) == before, "a refused transaction changed the state"
        assert self.app.nonce(tx.sender) == nonce
        key = Key.by_address.get(tx.sender)
        if key is not None and key.nonce == tx.nonce + 1:
            key.nonce = tx.nonce
        return result.log

    def fails(self, tx, code, *, at: int | None = None) -> str:
        """A transaction that passes admission but fails inside its contract: like every failed
        transaction it keeps none of its writes and consumes only its nonce."""
        result = self.run(tx, at=at)
        assert result.code == int(code), result
        assert self.app.nonce(tx.sender) == tx.nonce + 1
        return result.log

    def view(self, method: str, **args):
        return self.app.view("identity", method, args)

    def decide(self, deciders: list, *actions) -> dict:
        """A proposal of these actions, passed by the committee members `deciders`: its summary."""
        return decide(lambda tx: self.run(tx), deciders, list(actions))

    def failed(self, deciders: list, act, code) -> dict:
        """A passed proposal whose action fails with `code` when it runs, and so changes nothing of it."""
        summary = self.decide(deciders, act)
        assert (summary["status"], summary["error"]["code"]) == ("failed", int(code)), summary
        return summary

    def executed(self, deciders: list, *actions) -> dict:
        summary = self.decide(deciders, *actions)
        assert summary["status"] == "executed", summary
        return summary
