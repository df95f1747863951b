"""Consortium identity on chain: the membership registry and certificate-bound accounts.

The registry holds what `baychain.identity.verify_chain` needs, in state, so every
node decides the same way at the same height and anyone can prove it:

- the consortium **root** CA certificate;
- the **organisations**: name, jurisdiction (GD, HK, MO), role (member, regulator,
  auditor), status (active or suspended) and their CA certificate(s) as DER. A CA is
  issued by the root, or *imported* (a CA the organisation already ran, registered as
  a trust anchor with the attributes the consortium gave it);
- **revocations** as (issuer key id, serial), with reason, author, height and time;
- **bindings**: an account bound to a user certificate. The binding is keyed by the
  address of the key that signs (the certificate's Ed25519 key) and says which account
  that key acts for, which certificate certified it (issuer key id, serial) and the
  validity window of its certificate chain.

Binding: `bind(cert)`. The sender presents its user certificate (DER or PEM). It is
verified with `verify_chain` at the block's time against the registered root, the
organisation CAs and the on-chain revocations, for transaction signing (a node
certificate is refused, CERT_WRONG_USAGE); its key must be the key that signed the
transaction (CERT_KEY_MISMATCH). The first binding of a key creates the account whose
address is the key's own address. Binding again with a newer certificate for the same
key (a renewal) replaces the certificate and keeps the account.

Rotation to a new key: `rotate(account, new_cert, approval)` is signed by the **new**
key (proof that its holder wants it) and carries `approval`, the Ed25519 signature of
the account's **current** key over `rotation_message(chain_id, account, new_public_key)`
(proof that the account's holder wants it; `sign_rotation` makes it). The new
certificate is verified like `bind`, must come from the same organisation, and its key
must never have been bound. From that block on the new key acts as the same account
(contracts see the same `ctx.sender`: balances, notarizations, names stay), and the
old key is refused (ACCOUNT_UNBOUND: rotated out) and can never be bound again, so an
approval cannot be replayed. The old certificate may have expired (a lapsed user can
still move on with the key's consent) but must not be revoked: a revoked key approves
nothing. Nonces stay per signing key.

Admission (`admit`, called by the application in check_tx and again in
finalize_block, before the nonce is consumed): when the genesis says
`identity.required`, a transaction is admitted only if its signing key is bound, the
binding's certificate is not revoked, the block time is within its chain's validity
window, its issuing CA key is not revoked and its organisation is not suspended. That
costs two state reads (the binding, the issuer's status) and never re-verifies X.509.
`identity.bind` and `identity.rotate` are the bootstrapping exception: they are checked
by running the method's own verification read-only, so a refused bind also changes
nothing. Without `required` (or without an identity section at all — a dev chain), keys
that were never bound act as themselves; a key that has a binding is checked all the
same (a rotated-out key must not act as its old account).

Changes to the registry — register or remove an organisation, add a CA certificate,
suspend and reinstate an organisation, revoke a certificate or a CA key — are
committee decisions: `@governed` methods that run only as actions of a passed
proposal (`baychain.contracts.system.governance`). Organisations revoke their own
certificates without a vote: anyone may submit a CRL (`publish_crl`), and it is
accepted when a registered CA (or the root) signed it — the CA's signature is the
authority.

Storage (state keys `c/identity/<key>`):

    chain_id, genesis_time_ns, required
    root                       {"der", "key_id", "serial", "fingerprint"} (absent: imported CAs only)
    orgs                       organisation names, sorted
    org/<name>                 {"name", "jurisdiction", "role", "imported", "suspended", "cas": [{"der",
                                "key_id", "serial", "fingerprint", "issuer_key_id"}], "registered_height",
                                "suspension"}
    issuer/<key id>            {"organisation", "suspended", "revoked", "removed"}: what admission reads per tx
    caref/<root kid>/<serial>  {"organisation", "key_id"}: a root-issued CA certificate by the pair that
                                revokes it (an imported CA is withdrawn with revoke_ca)
    revoked/<kid>/<serial>     {"issuer_key_id", "serial", "reason", "author", "source", "height",
                                "time_ns", "revoked_at_ns"}
    bind/<signer address>      {"address", "account", "public_key", "organisation", "jurisdiction", "role",
                                "issuer_key_id", "serial", "subject", "fingerprint", "not_before_ns",
                                "not_after_ns", "status" (active | revoked | rotated), "successor",
                                "bound_height", "bound_time_ns"}
    cert/<kid>/<serial>        the signer address bound with that certificate
    account/<account>          {"account", "signer", "organisation", "rotations", "created_height",
                                "rotated_height"}

Serials are uppercase hex of even length (as `openssl x509 -serial` prints them); key
ids are the hex SHA-256 of the CA's SubjectPublicKeyInfo (`identity.key_id`).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from cryptography import x509

from baychain import encoding
from baychain.contracts.base import Contract, governed, view
from baychain.contracts.context import END_OF_TIME, Caller, Context, contract_key
from baychain.crypto.suites import ED25519, is_address
from baychain.errors import BaychainError, Code
from baychain.identity import attributes
from baychain.identity.attributes import Jurisdiction, Role
from baychain.identity.certificates import (
    fingerprint, load_certificate, ns_to_datetime, parse_serial, serial_hex, to_der, to_seconds,
)
from baychain.identity.keys import key_id
from baychain.identity.revocation import parse_reason, revocations_from_crl
from baychain.identity.verification import (
    CertIdentity, OrgAuthority, Usage, verify_chain, verify_org_authority, verify_root,
)

NAME = "identity"
BOOTSTRAP_METHODS = ("bind", "rotate")  # admitted without a binding: they verify a certificate themselves
ROTATE_DOMAIN = b"baychain/identity/rotate/v1"
ACTIVE, REVOKED, ROTATED = "active", "revoked", "rotated"
MAX_ORGS = 256
MAX_CAS_PER_ORG = 8
MAX_CRL_ENTRIES_PER_TX = 32  # new revocations recorded per publish_crl; resubmit the CRL for the rest
MAX_REASON = 200
SECOND = 10**9
_KEY_ID = re.compile(r"[0-9a-f]{64}\Z")

Reader = Callable[[bytes], "bytes | None"]
Getter = Callable[[str], Any]

_BIND_PREFIX = contract_key(NAME, "bind/")
_REQUIRED_KEY = contract_key(NAME, "required")


def _bind_key(address: str) -> str:
    return f"bind/{address}"


def _org_key(name: str) -> str:
    return f"org/{name}"


def _issuer_key(kid: str) -> str:
    return f"issuer/{kid}"


def _revoked_key(kid: str, serial: int) -> str:
    return f"revoked/{kid}/{serial_hex(serial)}"


def _caref_key(kid: str, serial: int) -> str:
    return f"caref/{kid}/{serial_hex(serial)}"


def _cert_key(kid: str, serial: int) -> str:
    return f"cert/{kid}/{serial_hex(serial)}"


def _account_key(account: str) -> str:
    return f"account/{account}"


def rotation_message(chain_id: str, account: str, new_public_key: bytes) -> bytes:
    """What the account's current key signs to approve `new_public_key` taking it over."""
    return ROTATE_DOMAIN + encoding.encode([chain_id, account, new_public_key])


def sign_rotation(private_key: bytes, chain_id: str, account: str, new_public_key: bytes) -> bytes:
    """The `approval` argument of `identity.rotate`, signed with the current key's seed."""
    return ED25519.sign(private_key, rotation_message(chain_id, account, new_public_key))


class Identity(Contract):
    """Membership registry: root and organisation CAs, revocations, certificate-bound accounts."""

    name = NAME

    # -- accounts ------------------------------------------------------------------------

    def bind(self, ctx: Context, cert: bytes) -> Any:
        """Bind the signing key to its user certificate (DER or PEM), verified at block time.
        A key's first binding creates its account; a newer certificate for the same key renews it."""
        plan = self._plan_bind(ctx, cert)
        binding, previous = plan["binding"], plan["previous"]
        if previous is not None and (previous["issuer_key_id"], previous["serial"]) != (binding["issuer_key_id"], binding["serial"]):
            ctx.delete(_cert_key(previous["issuer_key_id"], parse_serial(previous["serial"])))
        binding["bound_height"] = ctx.height
        ctx.put(_bind_key(binding["address"]), binding)
        ctx.put(_cert_key(binding["issuer_key_id"], parse_serial(binding["serial"])), binding["address"])
        if previous is None:
            ctx.put(_account_key(binding["account"]), {
                "account": binding["account"], "signer": binding["address"], "organisation": binding["organisation"],
                "rotations": 0, "created_height": ctx.height, "rotated_height": 0})
        ctx.emit("bound", account=binding["account"], signer=binding["address"], organisation=binding["organisation"],
                 issuer_key_id=binding["issuer_key_id"], serial=binding["serial"], renewal=previous is not None)
        return _summary(binding)

    def rotate(self, ctx: Context, account: str, new_cert: bytes, approval: bytes) -> Any:
        """Signed by the NEW key: bind its certificate to an existing account. `approval` is the
        account's current key's signature over rotation_message(chain_id, account, new key)."""
        plan = self._plan_rotate(ctx, account, new_cert, approval)
        binding, old, record = plan["binding"], plan["old"], plan["account"]
        binding["bound_height"] = ctx.height
        old["status"] = ROTATED
        old["successor"] = binding["address"]
        ctx.put(_bind_key(old["address"]), old)
        ctx.put(_bind_key(binding["address"]), binding)
        ctx.put(_cert_key(binding["issuer_key_id"], parse_serial(binding["serial"])), binding["address"])
        record["signer"] = binding["address"]
        record["rotations"] += 1
        record["rotated_height"] = ctx.height
        ctx.put(_account_key(account), record)
        ctx.emit("rotated", account=account, old_signer=old["address"], new_signer=binding["address"],
                 issuer_key_id=binding["issuer_key_id"], serial=binding["serial"])
        return _summary(binding)

    # -- the registry: committee powers (actions of passed proposals) --------------------------

    @governed
    def register_org(self, ctx: Context, ca: bytes, organisation: str = "", jurisdiction: str = "", role: str = "",
                     imported: bool = False) -> None:
        """Register an organisation by its CA certificate. A root-issued CA carries its
        attributes; an imported CA (imported=true) needs organisation, jurisdiction and role."""
        names = ctx.get("orgs", [])
        ctx.require(len(names) < MAX_ORGS, Code.LIMIT_EXCEEDED, f"at most {MAX_ORGS} organisations")
        root = _root_cert(ctx)
        auth = _authority(ca, organisation, jurisdiction, role, imported, root, ctx.time_ns)
        ctx.require(not ctx.has(_org_key(auth.organisation)), Code.ALREADY_EXISTS,
                    f"organisation {auth.organisation!r} is already registered")
        entry = _ca_entry(auth, root)
        _require_new_ca_key(ctx, entry, auth.organisation)
        org = {"name": auth.organisation, "jurisdiction": auth.jurisdiction.value, "role": auth.role.value,
               "imported": auth.imported, "suspended": False, "cas": [entry], "registered_height": ctx.height,
               "suspension": None}
        ctx.put(_org_key(auth.organisation), org)
        ctx.put("orgs", sorted([*names, auth.organisation]))
        _put_ca_refs(ctx, org, entry)
        ctx.emit("org_registered", organisation=auth.organisation, jurisdiction=org["jurisdiction"], role=org["role"],
                 key_id=entry["key_id"], imported=auth.imported)

    @governed
    def add_ca(self, ctx: Context, organisation: str, ca: bytes) -> None:
        """Add a CA certificate to an organisation: a renewed CA, or a new CA key."""
        org = _org(ctx, organisation)
        ctx.require(len(org["cas"]) < MAX_CAS_PER_ORG, Code.LIMIT_EXCEEDED,
                    f"an organisation has at most {MAX_CAS_PER_ORG} CA certificates")
        root = _root_cert(ctx)
        auth = _authority(ca, org["name"], org["jurisdiction"], org["role"], org["imported"], root, ctx.time_ns)
        entry = _ca_entry(auth, root)
        ctx.require(all(c["fingerprint"] != entry["fingerprint"] for c in org["cas"]), Code.ALREADY_EXISTS,
                    f"this CA certificate is already registered for {org['name']!r}")
        if not any(c["key_id"] == entry["key_id"] for c in org["cas"]):
            _require_new_ca_key(ctx, entry, org["name"])
        org["cas"] = [*org["cas"], entry]
        ctx.put(_org_key(org["name"]), org)
        _put_ca_refs(ctx, org, entry)
        ctx.emit("ca_added", organisation=org["name"], key_id=entry["key_id"], serial=entry["serial"])

    @governed
    def suspend_org(self, ctx: Context, organisation: str, reason: str = "") -> None:
        """Suspend an organisation: its accounts' transactions are refused (ORG_SUSPENDED)."""
        ctx.require(len(reason) <= MAX_REASON, Code.BAD_ARGUMENTS, f"reason: at most {MAX_REASON} characters")
        org = _org(ctx, organisation)
        ctx.require(not org["suspended"], Code.ALREADY_EXISTS, f"organisation {organisation!r} is already suspended")
        _set_suspended(ctx, org, True, {"reason": reason, "author": _author(ctx), "height": ctx.height, "time_ns": ctx.time_ns})
        ctx.emit("org_suspended", organisation=organisation, reason=reason, author=_author(ctx))

    @governed
    def reinstate_org(self, ctx: Context, organisation: str) -> None:
        """Lift an organisation's suspension."""
        org = _org(ctx, organisation)
        ctx.require(not org.get("removed"), Code.NOT_AUTHORIZED, f"organisation {organisation!r} was removed; register it anew")
        ctx.require(org["suspended"], Code.ALREADY_EXISTS, f"organisation {organisation!r} is not suspended")
        _set_suspended(ctx, org, False, None)
        ctx.emit("org_reinstated", organisation=organisation, author=_author(ctx))

    @governed
    def remove_org(self, ctx: Context, organisation: str, reason: str = "") -> None:
        """Remove an organisation from the consortium: its CA keys certify no one any more (its
        accounts are refused with ORG_SUSPENDED) and it leaves the list; its record stays as history."""
        ctx.require(len(reason) <= MAX_REASON, Code.BAD_ARGUMENTS, f"reason: at most {MAX_REASON} characters")
        org = _org(ctx, organisation)
        ctx.require(not org.get("removed"), Code.ALREADY_EXISTS, f"organisation {organisation!r} was already removed")
        org["removed"] = {"reason": reason, "author": _author(ctx), "height": ctx.height, "time_ns": ctx.time_ns}
        _set_suspended(ctx, org, True, org["suspension"] or {"reason": reason, "author": _author(ctx),
                                                             "height": ctx.height, "time_ns": ctx.time_ns})
        for kid in dict.fromkeys(c["key_id"] for c in org["cas"]):
            issuer = ctx.get(_issuer_key(kid))
            issuer["removed"] = True
            ctx.put(_issuer_key(kid), issuer)
        ctx.put("orgs", [n for n in ctx.get("orgs", []) if n != org["name"]])
        ctx.emit("org_removed", organisation=org["name"], reason=reason, author=_author(ctx))

    @governed
    def revoke(self, ctx: Context, issuer_key_id: str, serial: str, reason: str = "unspecified") -> None:
        """Revoke a certificate by (issuer key id, serial). Naming an organisation CA the
        root issued (issuer: the root's key id) withdraws that CA key, as revoke_ca does."""
        kid, number, reason = _revocation_args(issuer_key_id, serial, reason)
        root = ctx.get("root")
        ctx.require(not (root and root["key_id"] == kid and root["serial"] == serial_hex(number)), Code.NOT_AUTHORIZED,
                    "the consortium root cannot be revoked")
        ctx.require(not ctx.has(_revoked_key(kid, number)), Code.ALREADY_EXISTS,
                    f"certificate {serial_hex(number)} of issuer {kid} is already revoked")
        _record_revocation(ctx, kid, number, reason, "committee", ctx.time_ns)

    @governed
    def revoke_ca(self, ctx: Context, organisation: str, key_id: str, reason: str = "unspecified") -> None:
        """Withdraw an organisation CA key, imported or not: every certificate it issued is
        refused, under any CA certificate of that key."""
        org = _org(ctx, organisation)
        kid, _, reason = _revocation_args(key_id, "01", reason)
        cas = [c for c in org["cas"] if c["key_id"] == kid]
        ctx.require(bool(cas), Code.NOT_FOUND, f"organisation {organisation!r} has no CA key {kid}")
        issuer = ctx.get(_issuer_key(kid))
        ctx.require(not issuer["revoked"], Code.ALREADY_EXISTS, f"CA key {kid} is already revoked")
        for ca in cas:  # root-issued CA certificates are revoked by the root's (issuer, serial), as verify_chain checks
            if ca["issuer_key_id"] and not ctx.has(_revoked_key(ca["issuer_key_id"], parse_serial(ca["serial"]))):
                _record_revocation(ctx, ca["issuer_key_id"], parse_serial(ca["serial"]), reason, "committee", ctx.time_ns)
        issuer = ctx.get(_issuer_key(kid))
        if not issuer["revoked"]:  # an imported CA: no (issuer, serial) of the root names it
            issuer["revoked"] = True
            ctx.put(_issuer_key(kid), issuer)
        ctx.emit("ca_revoked", organisation=org["name"], key_id=kid, reason=reason, author=_author(ctx))

    def publish_crl(self, ctx: Context, crl: bytes) -> Any:
        """Record the revocations of a CRL (PEM or DER) signed by a registered CA or the root; anyone may
        submit it. At most 32 new entries per transaction: submit the same CRL again for the rest."""
        parsed = _load_crl(crl)
        ca = _crl_signer(ctx, parsed)
        try:
            revocations = revocations_from_crl(parsed, ca)
        except BaychainError:
            raise
        except Exception as exc:  # a CRL `cryptography` parses lazily and trips over
            raise BaychainError(Code.CERT_INVALID, f"the CRL could not be read: {type(exc).__name__}") from None
        kid = revocations.issuer_key_id
        root = ctx.get("root")
        recorded = already = 0
        for entry in revocations.entries:
            if ctx.has(_revoked_key(kid, entry.serial)) or (root and root["key_id"] == kid and root["serial"] == serial_hex(entry.serial)):
                already += 1
                continue
            if recorded == MAX_CRL_ENTRIES_PER_TX:
                continue
            _record_revocation(ctx, kid, entry.serial, entry.reason, "crl", entry.revoked_at_ns)
            recorded += 1
        remaining = len(revocations.entries) - recorded - already
        ctx.emit("crl_published", issuer_key_id=kid, crl_number=revocations.crl_number, recorded=recorded,
                 remaining=remaining, author=ctx.sender)
        return {"issuer_key_id": kid, "crl_number": revocations.crl_number, "recorded": recorded,
                "already_recorded": already, "remaining": remaining}

    # -- views -------------------------------------------------------------------------------

    @view
    def root(self, ctx: Context) -> Any:
        """The consortium root CA certificate (DER) and its key id; None if only imported CAs are registered."""
        return ctx.get("root")

    @view
    def organisations(self, ctx: Context) -> Any:
        """Every registered organisation with its status and CA certificates."""
        return [ctx.get(_org_key(n)) for n in ctx.get("orgs", [])]

    @view
    def organisation(self, ctx: Context, name: str) -> Any:
        """One registered organisation."""
        return _org(ctx, name)

    @view
    def binding(self, ctx: Context, address: str) -> Any:
        """The binding of a signing key's address: account, certificate, validity, status."""
        binding = ctx.get(_bind_key(address))
        ctx.require(binding is not None, Code.NOT_FOUND, f"key {address} is bound to no certificate")
        return binding

    @view
    def account(self, ctx: Context, account: str) -> Any:
        """An account created by a binding: its current signing key and rotation count."""
        record = ctx.get(_account_key(account))
        ctx.require(record is not None, Code.NOT_FOUND, f"{account} is not a certificate-bound account")
        return record

    @view
    def revocation(self, ctx: Context, issuer_key_id: str, serial: str) -> Any:
        """The revocation record of (issuer key id, serial), if revoked."""
        kid, number, _ = _revocation_args(issuer_key_id, serial, "unspecified")
        record = ctx.get(_revoked_key(kid, number))
        ctx.require(record is not None, Code.NOT_FOUND, f"certificate {serial_hex(number)} of issuer {kid} is not revoked")
        return record

    @view
    def status(self, ctx: Context, address: str) -> Any:
        """Would a transaction signed by this key be admitted at the last block's time? The account it
        acts for, or the error code it would get."""
        try:
            account = _account_for(ctx.get, address, ctx.time_ns or ctx.get("genesis_time_ns", 0))
        except BaychainError as exc:
            return {"address": address, "admitted": False, "account": None, **exc.to_dict()}
        return {"address": address, "admitted": True, "account": account, "code": 0}

    @view
    def settings(self, ctx: Context) -> Any:
        """Whether certificates are required, and whether the chain has a registry at all."""
        return {"required": bool(ctx.get("required", False)), "registry": ctx.has("orgs")}

    # -- the checks behind bind and rotate (read-only; admission runs them too) ---------------------

    def _plan_bind(self, ctx: Context, cert: bytes) -> dict[str, Any]:
        binding = _verify_user(ctx, cert)
        ctx.require(binding["address"] == ctx.signer, Code.CERT_KEY_MISMATCH,
                    f"the certificate certifies key {binding['address']}, but the transaction is signed by {ctx.signer}")
        previous = ctx.get(_bind_key(ctx.signer))
        if previous is None:
            ctx.require(not ctx.has(_account_key(ctx.signer)), Code.ALREADY_EXISTS, f"account {ctx.signer} already exists")
            binding["account"] = ctx.signer
        else:
            _require_not_rotated(previous)
            ctx.require(previous["organisation"] == binding["organisation"], Code.NOT_AUTHORIZED,
                        f"key {ctx.signer} belongs to an account of {previous['organisation']!r}; "
                        f"a certificate of {binding['organisation']!r} cannot renew it")
            binding["account"] = previous["account"]
        return {"binding": binding, "previous": previous}

    def _plan_rotate(self, ctx: Context, account: str, new_cert: bytes, approval: bytes) -> dict[str, Any]:
        record = ctx.get(_account_key(account))
        ctx.require(record is not None, Code.NOT_FOUND, f"{account} is not a certificate-bound account")
        old = ctx.get(_bind_key(record["signer"]))
        if old["status"] == REVOKED:
            raise BaychainError(Code.CERT_REVOKED, f"the certificate of account {account}'s current key is revoked; "
                                                   "a revoked key cannot approve a rotation")
        binding = _verify_user(ctx, new_cert)
        ctx.require(binding["address"] == ctx.signer, Code.CERT_KEY_MISMATCH,
                    f"the certificate certifies key {binding['address']}, but the transaction is signed by {ctx.signer}; "
                    "a rotation is signed by the new key")
        ctx.require(ctx.signer != record["signer"], Code.ALREADY_EXISTS, f"key {ctx.signer} is already account {account}'s key")
        existing = ctx.get(_bind_key(ctx.signer))
        ctx.require(existing is None, Code.ALREADY_EXISTS,
                    f"key {ctx.signer} is already bound (account {existing['account'] if existing else ''}); "
                    "a rotation needs a key that was never bound")
        ctx.require(not ctx.has(_account_key(ctx.signer)), Code.ALREADY_EXISTS, f"account {ctx.signer} already exists")
        ctx.require(binding["organisation"] == record["organisation"], Code.NOT_AUTHORIZED,
                    f"account {account} belongs to {record['organisation']!r}; a certificate of "
                    f"{binding['organisation']!r} cannot take it over")
        message = rotation_message(ctx.get("chain_id", ""), account, binding["public_key"])
        ctx.require(ED25519.verify(old["public_key"], message, approval), Code.NOT_AUTHORIZED,
                    f"the approval is not a signature of account {account}'s current key ({record['signer']}) "
                    "over rotation_message(chain id, account, new public key)")
        binding["account"] = account
        return {"binding": binding, "old": old, "account": record}


# -- admission: the hook the application calls for every transaction -------------------------------


def admit(tx: Any, read: Reader, time_ns: int) -> tuple[Caller, int, int]:
    """Who a transaction acts for (account, organisation, jurisdiction, role), or
    BaychainError saying why it may not act; with the block times [since, until) over
    which this verdict holds as long as nothing it read changes.

    `read` sees the state the transaction would run against (committed state for
    check_tx, the block so far for finalize_block); `time_ns` is the block time (for
    check_tx, the last block's; 0 before the first block, meaning the genesis time).
    Reads nothing but state; writes nothing. State values were written by
    `encoding.encode`, so they are read with its native decoder (faster than cbor2's).
    """
    signer = tx.sender
    if tx.contract == NAME and tx.method in BOOTSTRAP_METHODS:
        return _precheck(tx, read, time_ns), time_ns, time_ns + 1  # certificates checked at this time only
    raw = read(_BIND_PREFIX + signer.encode())
    if raw is None:
        required = read(_REQUIRED_KEY)
        if required is not None and encoding.decode(required, Code.INTERNAL):
            raise _unbound(signer)
        return Caller(signer), 0, END_OF_TIME
    binding = encoding.decode(raw, Code.INTERNAL)
    _check_binding(binding, _getter(read), time_ns or _genesis_time(read))
    caller = Caller(binding["account"], binding["organisation"], binding["jurisdiction"], binding["role"])
    if not time_ns:
        return caller, 0, 1  # judged at the genesis time: holds until a block has a time of its own
    return caller, binding["not_before_ns"], binding["not_after_ns"] + 1  # the certificate chain's validity


def _account_for(get: Getter, signer: str, time_ns: int) -> str:
    binding = get(_bind_key(signer))
    if binding is None:
        if get("required"):
            raise _unbound(signer)
        return signer
    _check_binding(binding, get, time_ns)
    return binding["account"]


def _check_binding(binding: Mapping[str, Any], get: Getter, time_ns: int) -> None:
    """A bound key may act: not rotated out, certificate not revoked, its CA key not revoked,
    the time within its chain's validity, its organisation not suspended."""
    address, account = binding["address"], binding["account"]
    if binding["status"] == ROTATED:
        _require_not_rotated(binding)
    cert = f"the certificate of {binding['subject']} (serial {binding['serial']})"
    if binding["status"] == REVOKED:
        raise BaychainError(Code.CERT_REVOKED, f"{cert}, bound to key {address}, is revoked")
    issuer = get(_issuer_key(binding["issuer_key_id"]))
    if issuer is None or issuer["revoked"]:
        raise BaychainError(Code.CERT_REVOKED, f"the organisation CA that issued {cert} is revoked")
    if time_ns < binding["not_before_ns"]:
        raise BaychainError(Code.CERT_NOT_YET_VALID, f"{cert} (or its CA chain) is not valid until "
                                                     f"{_iso(binding['not_before_ns'])}; the block time is {_iso(time_ns)}")
    if time_ns > binding["not_after_ns"]:
        raise BaychainError(Code.CERT_EXPIRED, f"{cert} (or its CA chain) expired at {_iso(binding['not_after_ns'])}; "
                                               f"the block time is {_iso(time_ns)}; bind a renewed certificate")
    if issuer.get("removed"):
        raise BaychainError(Code.ORG_SUSPENDED, f"organisation {binding['organisation']!r} of account {account} "
                                                "was removed from the consortium")
    if issuer["suspended"]:
        raise BaychainError(Code.ORG_SUSPENDED, f"organisation {binding['organisation']!r} of account {account} is suspended")


def _require_not_rotated(binding: Mapping[str, Any]) -> None:
    if binding["status"] == ROTATED:
        raise BaychainError(Code.ACCOUNT_UNBOUND, f"key {binding['address']} was rotated out of account "
                                                  f"{binding['account']} (its key is now {binding['successor']}); "
                                                  "a rotated-out key can neither act nor be bound again")


def _unbound(signer: str) -> BaychainError:
    return BaychainError(Code.ACCOUNT_UNBOUND, f"key {signer} is bound to no certificate; this chain admits only "
                                               "certificate-bound keys (send identity.bind with your user certificate first)")


def _precheck(tx: Any, read: Reader, time_ns: int) -> Caller:
    """bind and rotate, admitted without a binding: run the method's checks read-only, so a
    certificate that would be refused is refused before anything (even the nonce) changes."""
    get = _getter(read)
    time_ns = time_ns or _genesis_time(read)
    previous = get(_bind_key(tx.sender))
    account = previous["account"] if previous is not None and previous["status"] != ROTATED else tx.sender
    method = _CONTRACT.methods[tx.method]
    kwargs = method.check_args(tx.args)
    ctx = Context(read, contract=NAME, sender=account, signer=tx.sender, height=0, time_ns=time_ns,
                  tx_hash=tx.hash, readonly=True)
    plan = _CONTRACT._plan_bind if tx.method == "bind" else _CONTRACT._plan_rotate
    try:
        plan(ctx, **kwargs)
    except BaychainError:
        raise
    except Exception as exc:  # never let a strange certificate escape as anything but a refusal
        raise BaychainError(Code.CERT_INVALID, f"the certificate could not be processed: {type(exc).__name__}") from None
    return Caller(account)


def _getter(read: Reader) -> Getter:
    def get(key: str, default: Any = None) -> Any:
        raw = read(contract_key(NAME, key))
        return default if raw is None else encoding.decode(raw, Code.INTERNAL)
    return get


def _genesis_time(read: Reader) -> int:
    raw = read(contract_key(NAME, "genesis_time_ns"))
    return encoding.decode(raw, Code.INTERNAL) if raw is not None else 0


# -- verification against the registry ----------------------------------------------------------------


@dataclass
class _Registry:
    root: x509.Certificate | None
    authorities: list[OrgAuthority]
    windows: dict[str, tuple[int, int, bool]]  # CA fingerprint -> (not_before_ns, not_after_ns, imported)


class _RevokedView:
    """verify_chain's `revoked_serials`, answered from state one pair at a time."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def __contains__(self, item: object) -> bool:
        if type(item) is tuple and len(item) == 2:
            return self._ctx.has(_revoked_key(item[0], item[1]))
        return False  # bare serials: the chain always scopes serials by issuer

    def __iter__(self):  # pragma: no cover - verify_chain only asks `in`
        return iter(())

    def __len__(self) -> int:  # pragma: no cover
        return 0


def _registry(ctx: Context) -> _Registry:
    names = ctx.get("orgs")
    if names is None:
        raise BaychainError(Code.NOT_FOUND, "this chain has no identity registry (its genesis has no app_state.identity)")
    root_record = ctx.get("root")
    root = _load(root_record["der"]) if root_record else None
    authorities: list[OrgAuthority] = []
    windows: dict[str, tuple[int, int, bool]] = {}
    for name in names:
        org = ctx.get(_org_key(name))
        for ca in org["cas"]:
            cert = _load(ca["der"])
            authorities.append(OrgAuthority(cert, org["name"], Jurisdiction(org["jurisdiction"]), Role(org["role"]),
                                            imported=org["imported"]))
            windows[ca["fingerprint"]] = (*_window(cert), org["imported"])
    return _Registry(root, authorities, windows)


def _verify_user(ctx: Context, cert: bytes) -> dict[str, Any]:
    """Verify a user certificate at block time; the binding record it would make (no account yet)."""
    registry = _registry(ctx)
    ident: CertIdentity = verify_chain(cert, registry.authorities, registry.root, ctx.time_ns, _RevokedView(ctx),  # type: ignore[arg-type]
                                       usage=Usage.TRANSACTION)
    if ident.address is None:
        raise BaychainError(Code.CERT_KEY_MISMATCH, f"{ident.subject} carries an {ident.key_type} key; "
                                                    "transactions are signed with Ed25519 keys")
    issuer = ctx.get(_issuer_key(ident.issuer_key_id))
    if issuer is None or issuer["revoked"]:
        raise BaychainError(Code.CERT_REVOKED, f"the organisation CA that issued {ident.subject} is revoked")
    if issuer["suspended"]:
        raise BaychainError(Code.ORG_SUSPENDED, f"organisation {ident.organisation!r} is suspended")
    not_before = ident.not_before_ns
    not_after = ident.not_after_ns + SECOND - 1  # valid through the last nanosecond of the notAfter second
    ca_before, ca_after, imported = registry.windows[ident.org_ca_fingerprint]
    windows = [(ca_before, ca_after)]
    if not imported and registry.root is not None:  # an imported CA is a trust anchor: nothing above it counts
        windows.append(_window(registry.root))
    for nb, na in windows:
        not_before, not_after = max(not_before, nb), min(not_after, na)
    return {"address": ident.address, "account": "", "public_key": ident.public_key, "organisation": ident.organisation,
            "jurisdiction": ident.jurisdiction.value, "role": ident.role.value, "issuer_key_id": ident.issuer_key_id,
            "serial": serial_hex(ident.serial), "subject": ident.subject, "fingerprint": ident.fingerprint,
            "not_before_ns": not_before, "not_after_ns": not_after, "status": ACTIVE, "successor": "",
            "bound_height": 0, "bound_time_ns": ctx.time_ns}


def _window(cert: x509.Certificate) -> tuple[int, int]:
    return (to_seconds(cert.not_valid_before_utc) * SECOND, to_seconds(cert.not_valid_after_utc) * SECOND + SECOND - 1)


@functools.lru_cache(maxsize=512)
def _load(der: bytes) -> x509.Certificate:
    """Parsed registry certificates (a pure function of their bytes, so caching changes no result)."""
    return load_certificate(der)


def _summary(binding: Mapping[str, Any]) -> dict[str, Any]:
    return {"account": binding["account"], "signer": binding["address"], "organisation": binding["organisation"],
            "issuer_key_id": binding["issuer_key_id"], "serial": binding["serial"],
            "not_after_ns": binding["not_after_ns"]}


# -- the registry's rules ---------------------------------------------------------------------------------


def _author(ctx: Context) -> str:
    """Who did it: the executing proposal, or the account that sent the transaction."""
    return f"proposal:{ctx.proposal}" if ctx.proposal else ctx.sender


def _org(ctx: Context, name: str) -> dict[str, Any]:
    org = ctx.get(_org_key(name)) if 0 < len(name) <= 64 else None
    ctx.require(org is not None, Code.NOT_FOUND, f"organisation {name!r} is not registered")
    return org


def _root_cert(ctx: Context) -> x509.Certificate | None:
    record = ctx.get("root")
    return _load(record["der"]) if record else None


def _authority(ca: bytes, organisation: str, jurisdiction: str, role: str, imported: bool,
               root: x509.Certificate | None, at_ns: int) -> OrgAuthority:
    """An organisation CA checked for registration: a CA, chaining to the root unless imported,
    valid at `at_ns`, with the attributes it is registered with."""
    cert = load_certificate(ca)
    try:
        if imported:
            attrs = attributes.org_attributes(cert)
            organisation = organisation or (attrs[0] if attrs else attributes.name_value(cert.subject, x509.oid.NameOID.ORGANIZATION_NAME) or "")
            if not jurisdiction or not role:
                if attrs is None:
                    raise BaychainError(Code.BAD_ARGUMENTS, "an imported CA needs a jurisdiction and a role")
                jurisdiction, role = jurisdiction or attrs[1].value, role or attrs[2].value
            auth = OrgAuthority.imported_ca(cert, organisation, jurisdiction, role)
        else:
            auth = OrgAuthority.from_certificate(cert)
            for label, given, actual in (("organisation", organisation, auth.organisation),
                                         ("jurisdiction", jurisdiction, auth.jurisdiction.value),
                                         ("role", role, auth.role.value)):
                if given and given != actual:
                    raise BaychainError(Code.BAD_ARGUMENTS, f"the CA certificate says {label} {actual!r}, not {given!r}")
    except BaychainError as exc:
        if exc.code == Code.BAD_REQUEST:  # attribute parsing speaks of requests; here they are arguments
            raise BaychainError(Code.BAD_ARGUMENTS, exc.message) from None
        raise
    verify_org_authority(auth, root, at_ns)
    return auth


def _ca_entry(auth: OrgAuthority, root: x509.Certificate | None) -> dict[str, Any]:
    cert = auth.certificate
    kid = auth.key_id
    # who revokes this certificate by (issuer key id, serial): the root; nobody for an imported CA, whose
    # issuer is outside the consortium (and whose own serial may equal one of its leaves'): see revoke_ca
    issuer = "" if auth.imported or root is None else key_id(root.public_key())  # type: ignore[arg-type]
    return {"der": to_der(cert), "key_id": kid, "serial": serial_hex(cert.serial_number),
            "fingerprint": fingerprint(cert), "issuer_key_id": issuer}


def _require_new_ca_key(ctx: Context, entry: Mapping[str, Any], organisation: str) -> None:
    holder = ctx.get(_issuer_key(entry["key_id"]))
    ctx.require(holder is None, Code.ALREADY_EXISTS,
                f"CA key {entry['key_id']} is already registered for {holder['organisation'] if holder else ''!r}")
    root = ctx.get("root")
    ctx.require(not (root and root["key_id"] == entry["key_id"]), Code.CERT_WRONG_USAGE,
                "the root's key cannot be an organisation CA")


def _put_ca_refs(ctx: Context, org: Mapping[str, Any], entry: Mapping[str, Any]) -> None:
    kid = entry["key_id"]
    if not ctx.has(_issuer_key(kid)):
        ctx.put(_issuer_key(kid), {"organisation": org["name"], "suspended": org["suspended"], "revoked": False})
    if entry["issuer_key_id"]:
        ctx.put(_caref_key(entry["issuer_key_id"], parse_serial(entry["serial"])), {"organisation": org["name"], "key_id": kid})


def _set_suspended(ctx: Context, org: dict[str, Any], suspended: bool, suspension: dict[str, Any] | None) -> None:
    org["suspended"] = suspended
    org["suspension"] = suspension
    ctx.put(_org_key(org["name"]), org)
    for kid in dict.fromkeys(c["key_id"] for c in org["cas"]):
        issuer = ctx.get(_issuer_key(kid))
        issuer["suspended"] = suspended
        ctx.put(_issuer_key(kid), issuer)


def _revocation_args(issuer_key_id: str, serial: str, reason: str) -> tuple[str, int, str]:
    kid = issuer_key_id.lower()
    if not _KEY_ID.match(kid):
        raise BaychainError(Code.BAD_ARGUMENTS, "issuer_key_id must be 64 hex digits (the issuing CA's key id)")
    try:
        return kid, parse_serial(serial), parse_reason(reason).value
    except BaychainError as exc:
        raise BaychainError(Code.BAD_ARGUMENTS, exc.message) from None


def _record_revocation(ctx: Context, kid: str, serial: int, reason: str, source: str, revoked_at_ns: int) -> None:
    """Store a revocation and apply it where admission looks: the CA key's status, or the binding."""
    ctx.put(_revoked_key(kid, serial), {
        "issuer_key_id": kid, "serial": serial_hex(serial), "reason": reason, "author": _author(ctx), "source": source,
        "height": ctx.height, "time_ns": ctx.time_ns, "revoked_at_ns": revoked_at_ns, "tx": ctx.tx_hash})
    ca = ctx.get(_caref_key(kid, serial))
    if ca is not None:
        issuer = ctx.get(_issuer_key(ca["key_id"]))
        issuer["revoked"] = True
        ctx.put(_issuer_key(ca["key_id"]), issuer)
    else:
        address = ctx.get(_cert_key(kid, serial))
        binding = ctx.get(_bind_key(address)) if address else None
        if binding and binding["status"] == ACTIVE and (binding["issuer_key_id"], binding["serial"]) == (kid, serial_hex(serial)):
            binding["status"] = REVOKED
            ctx.put(_bind_key(address), binding)
    ctx.emit("revoked", issuer_key_id=kid, serial=serial_hex(serial), reason=reason, author=_author(ctx), source=source,
             ca=ca["organisation"] if ca else "")


def _load_crl(data: bytes) -> x509.CertificateRevocationList:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise BaychainError(Code.CERT_INVALID, f"not an X.509 CRL: {exc}") from None


def _crl_signer(ctx: Context, crl: x509.CertificateRevocationList) -> x509.Certificate:
    """The registered CA (or the root) whose name issued the CRL and whose key signed it."""
    candidates = []
    root = _root_cert(ctx)
    if root is not None:
        candidates.append(root)
    for name in ctx.get("orgs", []):
        candidates.extend(_load(ca["der"]) for ca in ctx.get(_org_key(name))["cas"])
    named = [c for c in candidates if c.subject == crl.issuer]
    if not named:
        raise BaychainError(Code.CERT_UNKNOWN_CA, f"the CRL was issued by {crl.issuer.rfc4514_string()}, "
                                                  "which is not a registered CA")
    for cert in named:
        try:
            if crl.is_signature_valid(cert.public_key()):  # type: ignore[arg-type]
                return cert
        except Exception:
            continue
    raise BaychainError(Code.CERT_INVALID, "the CRL's signature does not verify with its issuer's registered key")


# -- genesis ---------------------------------------------------------------------------------------------


def genesis_state(app_state: Mapping[str, Any], chain_id: str, time_ns: int) -> dict[bytes, bytes]:
    """The registry's state entries from the genesis `app_state.identity` (empty if absent).

    `app_state.identity`: `root` (PEM; may be omitted when every organisation brings
    its own CA), `organisations[]` of {name, jurisdiction, role, ca: PEM (or a list of
    PEMs: a CA renewed with the same key), imported: bool}, `required` (bool, default
    true). Every CA is checked as `register_org` checks it, at the genesis time. The
    registry then changes only by committee proposals (app_state.governance).
    """
    section = app_state.get("identity")
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise _genesis_error("app_state.identity must be an object")
    storage: dict[str, Any] = {"chain_id": chain_id, "genesis_time_ns": int(time_ns)}
    root: x509.Certificate | None = None
    if section.get("root"):
        try:
            root = load_certificate(str(section["root"]).encode())
            verify_root(root, time_ns)
        except BaychainError as exc:
            raise _genesis_error(f"root: {exc.message}") from None
        storage["root"] = {"der": to_der(root), "key_id": key_id(root.public_key()),  # type: ignore[arg-type]
                           "serial": serial_hex(root.serial_number), "fingerprint": fingerprint(root)}
    orgs = section.get("organisations") or []
    if not isinstance(orgs, list) or len(orgs) > MAX_ORGS:
        raise _genesis_error(f"organisations must be a list of at most {MAX_ORGS}")
    names: list[str] = []
    for i, spec in enumerate(orgs):
        if not isinstance(spec, dict):
            raise _genesis_error(f"organisation {i} must be an object")
        pems = spec.get("ca")
        pems = pems if isinstance(pems, list) else [pems]
        if not pems or not all(isinstance(p, str) and p for p in pems) or len(pems) > MAX_CAS_PER_ORG:
            raise _genesis_error(f"organisation {i}: ca must be a PEM certificate (or a list of up to {MAX_CAS_PER_ORG})")
        org: dict[str, Any] | None = None
        for pem in pems:
            try:
                auth = _authority(pem.encode(), str(spec.get("name") or org and org["name"] or ""),
                                  str(spec.get("jurisdiction") or ""), str(spec.get("role") or ""),
                                  bool(spec.get("imported", False)), root, time_ns)
            except BaychainError as exc:
                raise _genesis_error(f"organisation {i}: {exc.message}") from None
            entry = _ca_entry(auth, root)
            if org is None:
                if _org_key(auth.organisation) in storage:
                    raise _genesis_error(f"organisation {auth.organisation!r} is listed twice")
                org = {"name": auth.organisation, "jurisdiction": auth.jurisdiction.value, "role": auth.role.value,
                       "imported": auth.imported, "suspended": False, "cas": [], "registered_height": 0, "suspension": None}
                storage[_org_key(org["name"])] = org
                names.append(org["name"])
            elif (auth.organisation, auth.jurisdiction.value, auth.role.value) != (org["name"], org["jurisdiction"], org["role"]):
                raise _genesis_error(f"organisation {i}: its CA certificates disagree about the organisation")
            if any(c["fingerprint"] == entry["fingerprint"] for c in org["cas"]):
                raise _genesis_error(f"organisation {i}: a CA certificate is listed twice")
            holder = storage.get(_issuer_key(entry["key_id"]))
            if holder is not None and holder["organisation"] != org["name"]:
                raise _genesis_error(f"organisation {i}: CA key {entry['key_id']} already belongs to {holder['organisation']!r}")
            org["cas"].append(entry)
            storage[_issuer_key(entry["key_id"])] = {"organisation": org["name"], "suspended": False, "revoked": False}
            if entry["issuer_key_id"]:
                storage[_caref_key(entry["issuer_key_id"], parse_serial(entry["serial"]))] = {"organisation": org["name"], "key_id": entry["key_id"]}
    required = section.get("required", True)
    if not isinstance(required, bool):
        raise _genesis_error("required must be true or false")
    if required and not names:
        raise _genesis_error("required is true but no organisation is registered: no key could ever be bound")
    if "admins" in section:
        raise _genesis_error("admins are gone: the committee in app_state.governance changes the registry by proposals")
    storage["orgs"] = sorted(names)
    storage["required"] = required
    return {contract_key(NAME, k): encoding.encode(v) for k, v in storage.items()}


def _genesis_error(message: str) -> BaychainError:
    return BaychainError(Code.BAD_REQUEST, f"genesis app_state.identity: {message}")


def _iso(time_ns: int) -> str:
    return ns_to_datetime(max(0, time_ns)).replace(microsecond=0).isoformat()


_CONTRACT = Identity()
