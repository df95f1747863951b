"""Cross-boundary exchange between real gateways on a real chain, each test trying to break a rule.

Three organisations (Shenzhen, GD; Hong Kong, HK; Macao, MO) run gateways with their
vaults, mutual TLS with consortium node certificates, and accounts bound on chain.
"""

from __future__ import annotations

import json
import socket
import ssl
import time

import httpx
import pytest

from baychain import encoding
from baychain.errors import BaychainError, Code
from baychain.gateway import TransferRefused
from baychain.gateway.config import admin_token
from baychain.identity import key_id, serial_hex
from gateway_support import DAY_NS, OutsiderSink

SZ, HK, MO = "Shenzhen Data Co", "Hong Kong Bank", "Macao Clinic"


def person(n: int, **extra) -> dict:
    """A record about one (made-up) person: a Hong Kong identity card number and a phone number."""
    return {"subject": f"Z{n:06d}(3)", "categories": ["contact", "identity"],
            "fields": {"name": f"Chan Tai Man {n}", "phone": f"+852 9{n:03d} {n:04d}", **extra}}


def authorise(gba, source: str, recipient: str, jurisdiction: str, purpose: str, subject: str,
              categories=("contact", "identity")) -> dict:
    """Assessment, filing and consent for one subject: everything a transfer needs."""
    g = gba.gateways[source]
    aid = g.assess(f"PIA-{purpose}", b"impact assessment document", recipient, purpose, list(categories))
    fid = g.file(f"SC-{purpose}-{recipient}", aid, recipient, jurisdiction, purpose, list(categories), 365)
    cid = g.consent(subject, recipient, purpose, list(categories), expiry_ns=time.time_ns() + 30 * DAY_NS)
    return {"assessment": aid, "filing": fid, "consent": cid}


def audit_entries(gba, **match) -> list[dict]:
    log = gba.client.view("dataex", "audit_log", {"limit": 200})["entries"]
    return [e for e in log if all(e[k] == v for k, v in match.items())]


# -- verification without disclosure -------------------------------------------------------------


def test_a_recipient_learns_whether_its_record_matches_and_when(gba):
    sz, hk = gba.gateways[SZ], gba.gateways[HK]
    record = person(1)
    anchored = sz.put("v-1", record, anchor=True)["anchor"]
    sz.grant(HK, "account-opening", ["contact", "identity"], expiry_ns=time.time_ns() + DAY_NS)

    answer = hk.verify_at(gba.peer(SZ), record, "account-opening")
    assert answer["matched"] is True
    assert (answer["anchored_height"], answer["anchored_time_ns"]) == (anchored["height"], anchored["time_ns"])
    assert answer["owner"] == SZ
    entry = gba.client.view("dataex", "audit_log", {"start": answer["audit"], "limit": 1})["entries"][0]
    assert (entry["kind"], entry["organisation"], entry["counterparty"], entry["outcome"]) == ("verification", SZ, HK, "allowed")


def test_one_changed_byte_fails_verification(gba):
    sz, hk = gba.gateways[SZ], gba.gateways[HK]
    record = person(2)
    sz.put("v-2", record, anchor=True)
    sz.grant(HK, "loan-check", ["contact", "identity"], expiry_ns=time.time_ns() + DAY_NS)
    assert hk.verify_at(gba.peer(SZ), record, "loan-check")["matched"] is True

    forged_phone = dict(record, fields=dict(record["fields"], phone=record["fields"]["phone"][:-1] + "9"))
    forged_subject = dict(record, subject=record["subject"].replace("Z", "Y"))
    for forged in (forged_phone, forged_subject):
        answer = hk.verify_at(gba.peer(SZ), forged, "loan-check")
        assert answer["matched"] is False
        assert (answer["anchored_height"], answer["anchored_time_ns"]) == (0, 0)
    # both misses are on record, without any hash of the forged records
    misses = [e for e in audit_entries(gba, kind="verification", counterparty=HK, purpose="loan-check") if e["reason"] == "no match"]
    assert len(misses) == 2 and all(e["ref"] == "" for e in misses)


def test_no_response_of_the_verification_api_contains_the_data(gba):
    """Read the raw bytes of every answer, matched, unmatched and refused, on the wire."""
    sz, hk = gba.gateways[SZ], gba.gateways[HK]
    record = person(3)
    sz.put("v-3", record, anchor=True)
    sz.grant(HK, "aml-screening", ["contact", "identity"], expiry_ns=time.time_ns() + DAY_NS)
    secrets = [record["subject"], record["fields"]["phone"], record["fields"]["name"], sz.digest(record).hex()]

    host, port = gba.peer(SZ).split(":")
    raw_answers = []
    for body in ({"record": record, "purpose": "aml-screening"},
                 {"record": dict(record, fields={"phone": record["fields"]["phone"]}), "purpose": "aml-screening"},
                 {"record": record, "purpose": "marketing"}):  # no grant for this purpose
        with socket.create_connection((host, int(port))) as raw, hk.client_tls.wrap_socket(raw, server_hostname=host) as tls:
            payload = encoding.encode(body)
            tls.sendall(b"POST /v1/peer/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/cbor\r\n"
                        b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload)
            chunks = []
            while chunk := tls.recv(65536):
                chunks.append(chunk)
            raw_answers.append(b"".join(chunks))
    assert b" 200 " in raw_answers[0].split(b"\r\n")[0] and b" 200 " in raw_answers[1].split(b"\r\n")[0]
    assert b" 403 " in raw_answers[2].split(b"\r\n")[0]
    assert int(Code.GRANT_MISSING) in encoding.decode(raw_answers[2].split(b"\r\n\r\n", 1)[1]).values()
    # and through the recipient's own admin API, as the CLI sees it
    admin = gba.running[HK].admin_url
    token = admin_token(hk.home)
    resp = httpx.post(f"{admin}/v1/verify", json={"peer": gba.peer(SZ), "record": record, "purpose": "aml-screening"},
                      headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200 and resp.json()["matched"] is True
    raw_answers.append(resp.content)
    for answer in raw_answers:
        for secret in secrets:
            for form in (secret.encode(), secret.encode().hex().encode()):
                assert form not in answer, f"a verification answer carried {secret!r}"
        assert set(json.loads(resp.content)) == {"owner", "matched", "anchored_height", "anchored_time_ns", "audit"}


def test_verification_without_a_live_grant_is_refused_and_audited(gba):
    sz, mo = gba.gateways[SZ], gba.gateways[MO]
    record = person(4)
    sz.put("v-4", record, anchor=True)
    with pytest.raises(BaychainError) as refused:
        mo.verify_at(gba.peer(SZ), record, "insurance")
    assert refused.value.code == Code.GRANT_MISSING
    gid = sz.grant(MO, "insurance", ["contact", "identity"], expiry_ns=time.time_ns() + DAY_NS)
    assert mo.verify_at(gba.peer(SZ), record, "insurance")["matched"] is True
    sz.revoke_grant(gid)
    with pytest.raises(BaychainError) as again:
        mo.verify_at(gba.peer(SZ), record, "insurance")
    assert again.value.code == Code.GRANT_MISSING
    outcomes = [e["outcome"] for e in audit_entries(gba, kind="verification", counterparty=MO, purpose="insurance")]
    assert outcomes == ["refused", "allowed", "refused"]


# -- authorised transfer -------------------------------------------------------------------------------


def test_a_transfer_with_filing_assessment_and_live_consent_arrives_and_is_audited(gba):
    sz, hk = gba.gateways[SZ], gba.gateways[HK]
    record = person(10)
    sz.put("t-10", record, anchor=True)
    authorise(gba, SZ, HK, "HK", "payroll", record["subject"])

    sent = sz.send("t-10", gba.peer(HK), "payroll")
    kept = [r for r in hk.received() if r["transfer"] == sent["transfer"]]
    assert kept and kept[0]["record"] == record and kept[0]["source"] == SZ and kept[0]["purpose"] == "payroll"
    transfer = gba.client.view("dataex", "record", {"kind": "transfer", "id": sent["transfer"]})
    assert transfer["allowed"] and transfer["received"] is not None
    assert (transfer["source_jurisdiction"], transfer["recipient_jurisdiction"]) == ("GD", "HK")
    kinds = [(e["kind"], e["outcome"]) for e in audit_entries(gba, ref=f"transfer/{sent['transfer']}")]
    assert kinds == [("transfer", "allowed"), ("receipt", "allowed")]
    # kept for the filing's retention period (365 days), then deleted
    until = kept[0]["retain_until_ns"]
    assert until == transfer["time_ns"] + 365 * DAY_NS
    assert sent["transfer"] not in hk.purge_expired(until - 1)
    assert sent["transfer"] in hk.purge_expired(until)
    assert all(r["transfer"] != sent["transfer"] for r in hk.received())


def test_a_transfer_after_consent_withdrawal_is_refused_and_both_events_are_on_chain(gba):
    sz, mo = gba.gateways[SZ], gba.gateways[MO]
    record = person(11)
    sz.put("t-11", record, anchor=True)
    ids = authorise(gba, SZ, MO, "MO", "treatment", record["subject"])
    first = sz.send("t-11", gba.peer(MO), "treatment")

    sz.withdraw_consent(ids["consent"])
    before = len(mo.received())
    with pytest.raises(TransferRefused) as refused:
        sz.send("t-11", gba.peer(MO), "treatment")
    assert refused.value.code == Code.CONSENT_WITHDRAWN
    assert len(mo.received()) == before  # nothing arrived

    consent = gba.client.view("dataex", "record", {"kind": "consent", "id": ids["consent"]})
    assert consent["withdrawn"] is not None
    second = gba.client.view("dataex", "record", {"kind": "transfer", "id": refused.value.transfer_id})
    assert second["allowed"] is False and second["code"] == Code.CONSENT_WITHDRAWN
    assert second["height"] > consent["withdrawn"]["height"]
    withdrawals = gba.client.search_events("dataex.consent_withdrawn", "id", str(ids["consent"]))
    assert any(r.height == consent["withdrawn"]["height"] for r in withdrawals)  # an event on chain
    alerts = gba.client.view("audit", "alerts", {"kind": "transfer_refused", "limit": 500})["alerts"]
    assert any(a["attributes"]["id"] == str(refused.value.transfer_id) for a in alerts)  # and a regulator alert
    outcomes = [e["outcome"] for e in audit_entries(gba, kind="transfer", counterparty=MO, purpose="treatment")]
    assert outcomes == ["allowed", "refused"] and first["transfer"] < refused.value.transfer_id


def test_a_recipient_outside_the_gba_is_refused(gba, tmp_path):
    sz = gba.gateways[SZ]
    record = person(12)
    sz.put("t-12", record, anchor=True)
    authorise(gba, SZ, HK, "HK", "audit-outsource", record["subject"])

    # 1. a gateway whose certificate does not chain to the consortium root: TLS refuses it,
    #    the chain records the refused attempt, and not one byte of the record reaches it
    sink = OutsiderSink(tmp_path / "lion")
    try:
        with pytest.raises(TransferRefused) as refused:
            sz.send("t-12", sink.address, "audit-outsource")
    finally:
        sink.close()
    assert refused.value.code == Code.RECIPIENT_OUTSIDE_GBA
    assert record["fields"]["phone"].encode() not in sink.received and record["subject"].encode() not in sink.received
    entry = gba.client.view("dataex", "record", {"kind": "transfer", "id": refused.value.transfer_id})
    assert entry["allowed"] is False and entry["recipient"] == f"unverified peer {sink.address}"

    # 2. a filing naming a place outside the GBA is refused outright
    aid = sz.assess("PIA-sg", b"doc", HK, "audit-outsource", ["identity"])
    with pytest.raises(BaychainError) as outside:
        sz.file("SC-SG", aid, "Lion City Bank", "SG", "audit-outsource", ["identity"], 365)
    assert outside.value.code == Code.RECIPIENT_OUTSIDE_GBA

    # 3. a member organisation suspended from the consortium no longer counts as one
    zh = gba.start_gateway("Zhuhai Trading")
    authorise(gba, SZ, "Zhuhai Trading", "GD", "audit-outsource", record["subject"])
    gba.decide({"contract": "identity", "method": "suspend_org", "args": {"organisation": "Zhuhai Trading", "reason": "test"}})
    with pytest.raises(TransferRefused) as suspended:
        sz.send("t-12", gba.peer("Zhuhai Trading"), "audit-outsource")
    assert suspended.value.code == Code.RECIPIENT_OUTSIDE_GBA
    assert zh.received() == []


def test_a_transfer_needs_a_filing_an_assessment_and_the_same_purpose(gba):
    sz, hk = gba.gateways[SZ], gba.gateways[HK]
    record = person(13)
    sz.put("t-13", record, anchor=True)
    with pytest.raises(TransferRefused) as no_filing:
        sz.send("t-13", gba.peer(HK), "credit-scoring")
    assert no_filing.value.code == Code.FILING_MISSING
    with pytest.raises(BaychainError) as no_assessment:
        sz.file("SC-x", 999_999, HK, "HK", "credit-scoring", ["identity"], 365)
    assert no_assessment.value.code == Code.ASSESSMENT_MISSING
    authorise(gba, SZ, HK, "HK", "credit-scoring", record["subject"])
    with pytest.raises(TransferRefused) as unfiled_purpose:
        sz.send("t-13", gba.peer(HK), "marketing")
    assert unfiled_purpose.value.code == Code.FILING_MISSING
    # filed and assessed for marketing too, but the subject consented to credit scoring only
    aid = sz.assess("PIA-m", b"doc", HK, "marketing", ["contact", "identity"])
    sz.file("SC-m", aid, HK, "HK", "marketing", ["contact", "identity"], 365)
    with pytest.raises(TransferRefused) as other_purpose:
        sz.send("t-13", gba.peer(HK), "marketing")
    assert other_purpose.value.code == Code.PURPOSE_MISMATCH
    with pytest.raises(TransferRefused) as unanchored:
        sz.put("t-13b", person(14))
        sz.send("t-13b", gba.peer(HK), "credit-scoring")
    assert unanchored.value.code == Code.NOT_FOUND
    assert sz.send("t-13", gba.peer(HK), "credit-scoring")["transfer"] > 0
    refused = [e for e in audit_entries(gba, kind="transfer", organisation=SZ, counterparty=HK) if e["outcome"] == "refused"]
    assert {e["code"] for e in refused} >= {Code.FILING_MISSING, Code.PURPOSE_MISMATCH, Code.NOT_FOUND}


def test_expired_consent_and_withdrawn_filing_stop_transfers(gba):
    sz = gba.gateways[SZ]
    record = person(16)
    sz.put("t-16", record, anchor=True)
    ids = authorise(gba, SZ, MO, "MO", "claims", record["subject"])
    sz.withdraw_consent(ids["consent"])
    short = sz.consent(record["subject"], MO, "claims", ["contact", "identity"], expiry_ns=time.time_ns() + 2 * 10**9)
    assert sz.send("t-16", gba.peer(MO), "claims")["transfer"] > 0  # the new consent, while it lasts
    time.sleep(2.2)
    with pytest.raises(TransferRefused) as expired:
        sz.send("t-16", gba.peer(MO), "claims")
    assert expired.value.code == Code.CONSENT_EXPIRED
    assert gba.client.view("dataex", "record", {"kind": "consent", "id": short})["withdrawn"] is None

    sz.consent(record["subject"], MO, "claims", ["contact", "identity"], expiry_ns=time.time_ns() + DAY_NS)
    assert sz.send("t-16", gba.peer(MO), "claims")["transfer"] > 0
    gba.client.call(sz.signer, "dataex", "withdraw_filing", {"id": ids["filing"]})
    with pytest.raises(TransferRefused) as unfiled:
        sz.send("t-16", gba.peer(MO), "claims")
    assert unfiled.value.code == Code.FILING_MISSING


def test_a_revoked_gateway_certificate_is_no_longer_a_gba_recipient(gba):
    """The committee revokes a gateway's TLS certificate: TLS still completes (the CA signed it), but
    the registry on chain says no, so the sender records a refusal and sends nothing."""
    sz = gba.gateways[SZ]
    revoked = gba.start_gateway(HK, "HK revoked")
    record = person(17)
    sz.put("t-17", record, anchor=True)
    authorise(gba, SZ, HK, "HK", "revocation-check", record["subject"])
    assert sz.send("t-17", gba.peer("HK revoked"), "revocation-check")["recipient"] == HK

    cert = gba.node_certs["HK revoked"]
    gba.decide({"contract": "identity", "method": "revoke", "args": {
        "issuer_key_id": key_id(gba.cas[HK].certificate.public_key()), "serial": serial_hex(cert.serial_number),
        "reason": "keyCompromise"}})
    before = len(revoked.received())
    with pytest.raises(TransferRefused) as refused:
        sz.send("t-17", gba.peer("HK revoked"), "revocation-check")
    assert refused.value.code == Code.RECIPIENT_OUTSIDE_GBA and "revoked" in refused.value.message
    assert len(revoked.received()) == before
    # and the revoked gateway cannot ask for verifications either
    with pytest.raises(BaychainError) as asking:
        revoked.verify_at(gba.peer(SZ), record, "revocation-check")
    assert asking.value.code == Code.PEER_UNTRUSTED


def test_a_gateway_refuses_data_pushed_without_an_allowed_transfer(gba):
    """A member's gateway that skips the chain (or replays a refused or received transfer) gets nothing stored."""
    sz, hk = gba.gateways[SZ], gba.gateways[HK]
    record = person(15)
    sz.put("t-15", record, anchor=True)
    with pytest.raises(TransferRefused) as refused:
        sz.send("t-15", gba.peer(HK), "no-filing-purpose")
    before = len(hk.received())
    from baychain.gateway.service import _PeerConnection

    for tid in (refused.value.transfer_id, 10**9):
        with _PeerConnection(gba.peer(HK), sz.client_tls) as conn, pytest.raises(BaychainError) as pushed:
            conn.post("/v1/peer/transfer", {"transfer": tid, "record": record})
        assert pushed.value.code == Code.TRANSFER_NOT_AUTHORISED
    # an allowed transfer to Macao cannot be delivered to Hong Kong either
    authorise(gba, SZ, MO, "MO", "referral", record["subject"])
    sent = sz.send("t-15", gba.peer(MO), "referral")
    with _PeerConnection(gba.peer(HK), sz.client_tls) as conn, pytest.raises(BaychainError) as misdirected:
        conn.post("/v1/peer/transfer", {"transfer": sent["transfer"], "record": record})
    assert misdirected.value.code == Code.TRANSFER_NOT_AUTHORISED
    assert len(hk.received()) == before


def test_a_peer_without_a_consortium_certificate_cannot_even_ask(gba, tmp_path):
    """TLS requires a client certificate from the consortium: an outsider's handshake fails."""
    sink = OutsiderSink(tmp_path / "lion")  # only for its key and certificate
    sink.close()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(tmp_path / "lion" / "chain.pem", tmp_path / "lion" / "key.pem")
    host, port = gba.peer(SZ).split(":")
    with socket.create_connection((host, int(port))) as raw, ctx.wrap_socket(raw, server_hostname=host) as tls:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            tls.sendall(b"POST /v1/peer/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            if not tls.recv(1024):
                raise ConnectionError("closed without an answer")


def test_the_admin_api_needs_the_owners_token(gba):
    admin = gba.running[SZ].admin_url
    for headers in ({}, {"Authorization": "Bearer " + "0" * 64}):
        resp = httpx.get(f"{admin}/v1/records", headers=headers)
        assert resp.status_code == 403 and resp.json()["error"] == "NOT_AUTHORIZED"
    token = admin_token(gba.gateways[SZ].home)
    resp = httpx.post(f"{admin}/v1/records", json={"id": "x"}, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 400 and resp.json()["error"] == "BAD_REQUEST" and "record" in resp.json()["message"]
    resp = httpx.post(f"{admin}/v1/records", json={"id": "bad", "record": {"subject": "x"}},
                      headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 400 and resp.json()["error"] == "RECORD_INVALID"
    assert all(r["id"] != "bad" for r in gba.gateways[SZ].records())  # nothing half-stored


def test_a_gateway_will_not_start_with_another_organisations_certificate_or_an_unbound_key(gba, tmp_path):
    from baychain.gateway import Gateway, GatewayConfig, init_home
    from baychain.identity import Kind, issue_leaf
    from baychain.sdk import Key
    from gateway_support import PASSPHRASE, TEST_SCRYPT_N

    sz_ca = gba.cas[SZ]
    node = issue_leaf(sz_ca.certificate, sz_ca.private_key, "stray", Kind.NODE, now=gba.now, dns_names=["127.0.0.1"])
    bound, unbound = Key.generate(), Key.generate()
    gba.bind(HK, bound, "hk-stray")  # a Hong Kong Bank key with a Shenzhen TLS certificate
    for name, signer, code in (("mixed", bound, Code.BAD_REQUEST), ("unbound", unbound, Code.ACCOUNT_UNBOUND)):
        home = tmp_path / name
        init_home(home, PASSPHRASE, config=GatewayConfig(node=gba.node.url, peer_port=0, admin_port=0),
                  node_cert=node.certificate, node_key=node.private_key, org_ca=sz_ca.certificate,
                  root=gba.root.certificate, signer=signer, scrypt_n=TEST_SCRYPT_N)
        with pytest.raises(BaychainError) as refused:
            Gateway(home, PASSPHRASE)
        assert refused.value.code == code
    with pytest.raises(BaychainError) as locked:
        Gateway(tmp_path / "mixed", "wrong passphrase")
    assert locked.value.code == Code.VAULT_LOCKED
