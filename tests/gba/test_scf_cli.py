"""`baychain scf` against a real node: amounts in major units, keys by name, outputs
for people and for scripts, and refusals in the stable error format."""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta, timezone

import pytest

from baychain.cli.scf import minor_units
from baychain.errors import BaychainError
from baychain.sdk import scf as sdk


def test_amounts_are_exact_decimals_of_major_units():
    assert minor_units("1,000,000.5") == 100_000_050
    assert minor_units("12") == 1_200 and minor_units("0.07") == 7 and minor_units("3_000.10") == 300_010
    for bad in ("1.234", "-5", "1e3", "", "ten", "1.2.3"):
        with pytest.raises(BaychainError):
            minor_units(bad)


def test_vouchers_from_the_command_line(gba_node, gba_cli, tmp_path):
    core, tier1, tier2, bank = (gba_cli.new_key(n) for n in ("core", "tier1", "tier2", "bank"))
    gba_node.decide(sdk.register_party(core.address, "core"), sdk.register_party(bank.address, "bank"))
    contract = tmp_path / "contract.pdf"
    contract.write_bytes(b"purchase contract " + core.public_key)
    due = (date.today() + timedelta(days=90)).isoformat()

    issued = gba_cli.json("scf", "issue", "tier1", "1,000,000.00", "--currency", "CNY", "--maturity", due,
                          "--document", str(contract), "--key", "core")
    vid = issued["result"]
    assert issued["receipt"]["code"] == 0 and vid.startswith("V")
    again = gba_cli("scf", "issue", "tier2", "5", "--maturity", due, "--document", str(contract), "--key", "core")
    assert again.exit_code == 1 and "error DOCUMENT_USED (code 254)" in again.output
    far = gba_cli("scf", "issue", "tier2", "5", "--maturity", (date.today() + timedelta(days=400)).isoformat(),
                  "--document-sha256", "ab" * 32, "--key", "core")
    assert far.exit_code == 1 and "TERM_EXCEEDED" in far.output

    assert gba_cli("scf", "accept", vid, "--key", "tier1").exit_code == 0
    split = gba_cli.json("scf", "split", vid, "600000", "400000.00", "--key", "tier1")
    kept, piece = split["result"]
    bad_split = gba_cli("scf", "split", kept, "1", "2", "--key", "tier1")
    assert "SPLIT_NOT_CONSERVED (code 256)" in bad_split.output
    assert gba_cli("scf", "transfer", piece, "tier2", "--key", "tier1").exit_code == 0
    assert gba_cli("scf", "apply", piece, bank.address, "--key", "tier2").exit_code == 0
    moved = gba_cli("scf", "transfer", piece, "tier1", "--key", "tier2")
    assert moved.exit_code == 1 and "VOUCHER_LOCKED (code 251)" in moved.output
    financed = gba_cli("scf", "finance", piece, "--registration", "ZD-CLI-0001", "--advance", "392000", "--key", "bank")
    assert financed.exit_code == 0, financed.output
    twice = gba_cli("--json", "scf", "apply", piece, bank.address, "--key", "tier2")
    assert twice.exit_code == 1 and '"error": "DOUBLE_FINANCING"' in twice.stdout

    shown = gba_cli("scf", "show", piece)
    assert "CNY 400,000.00" in shown.output and "financed" in shown.output and "ZD-CLI-0001" in shown.output
    tree = gba_cli.json("scf", "tree", vid)
    assert [v["id"] for v in tree] == [vid, kept, piece]
    assert [v["id"] for v in gba_cli.json("scf", "holdings", "bank")] == [piece]
    listed = gba_cli("scf", "parties")
    assert core.address in listed.output and "365 days" in listed.output
    early = gba_cli("scf", "settle", vid, "--payment-ref", "X", "--key", "core")
    assert "NOT_MATURED (code 258)" in early.output


def test_maturity_is_a_date_or_an_exact_time_with_its_offset(gba_node, gba_cli):
    core, supplier = gba_cli.new_key("core"), gba_cli.new_key("supplier")
    gba_node.decide(sdk.register_party(core.address, "core"))
    soon = (datetime.now(timezone.utc) + timedelta(seconds=2)).astimezone(timezone(timedelta(hours=8)))
    vid = gba_cli.json("scf", "issue", "supplier", "10", "--currency", "MOP", "--maturity", soon.isoformat(),
                       "--document-sha256", core.public_key.hex(), "--key", "core")["result"]
    assert gba_cli.json("scf", "show", vid)["maturity_ns"] == sdk.maturity_ns(soon)
    naive = gba_cli("scf", "issue", "supplier", "10", "--maturity", "2031-03-31T10:00:00",
                    "--document-sha256", "cd" * 32, "--key", "core")
    assert naive.exit_code == 1 and "BAD_REQUEST" in naive.output and "offset" in naive.output
    assert gba_cli("scf", "accept", vid, "--key", "supplier").exit_code == 0
    for _ in range(50):  # settlement is judged at the block's time: wait for the chain to pass maturity
        settled = gba_cli("--json", "scf", "settle", vid, "--payment-ref", "MOP-1", "--key", "core")
        if settled.exit_code == 0:
            break
        assert "NOT_MATURED" in settled.stdout
        time.sleep(0.2)
    assert json.loads(settled.stdout)["result"] == [{"voucher": vid, "holder": supplier.address, "amount": 1_000}]
