"""GS1 keys and Digital Link URIs: check digits, EPC URN conversion, canonical forms."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from baychain.errors import BaychainError, Code
from baychain.trace import digital_link, gs1


@pytest.mark.parametrize("key", ["09520123456788", "4006381333931", "96385074", "036000291452", "040123450000003338"])
def test_published_keys_have_valid_check_digits(key):
    assert gs1.check_digit(key[:-1]) == key[-1]


@given(st.text("0123456789", min_size=13, max_size=13), st.integers(0, 12), st.integers(1, 9))
def test_any_single_digit_error_changes_the_check_digit(body, position, delta):
    wrong = body[:position] + str((int(body[position]) + delta) % 10) + body[position + 1:]
    assert gs1.check_digit(wrong) != gs1.check_digit(body)
    with pytest.raises(BaychainError) as exc:
        gs1.gtin14(wrong + gs1.check_digit(body))
    assert exc.value.code == Code.GS1_CHECK_DIGIT


@pytest.mark.parametrize("urn, link", [
    ("urn:epc:id:sgtin:4012345.011111.987", "https://id.gs1.org/01/04012345111118/21/987"),
    ("urn:epc:id:sscc:4012345.0000000333", "https://id.gs1.org/00/040123450000003338"),
    ("urn:epc:id:sgln:4012345.00011.987", "https://id.gs1.org/414/4012345000115/254/987"),
    ("urn:epc:id:sgln:4012345.00000.0", "https://id.gs1.org/414/4012345000009"),
    ("urn:epc:id:pgln:4000001.98765", "https://id.gs1.org/417/4000001987658"),
    ("urn:epc:id:giai:4000001.111", "https://id.gs1.org/8004/4000001111"),
    ("urn:epc:id:gdti:4012345.55555.1234", "https://id.gs1.org/253/40123455555541234"),
    ("urn:epc:class:lgtin:4012345.022222.87545GHGH", "https://id.gs1.org/01/04012345222227/10/87545GHGH"),
    ("urn:epc:idpat:sgtin:4012345.044444.*", "https://id.gs1.org/01/04012345444445"),
])
def test_epc_urns_become_canonical_digital_links(urn, link):
    assert gs1.epc_urn_to_digital_link(urn) == link


@pytest.mark.parametrize("urn", ["urn:epc:id:sgtin:401234.011111.987", "urn:epc:id:sgtin:4012345.011111",
                                 "urn:epc:id:sscc:4012345.000000033", "urn:epc:id:foo:1.2", "urn:epc:id:sgtin:4012345.01111a.1",
                                 "urn:epc:idpat:sgtin:4012345.044444.5"])
def test_malformed_epc_urns_are_refused(urn):
    with pytest.raises(BaychainError) as exc:
        gs1.epc_urn_to_digital_link(urn)
    assert exc.value.code == Code.GS1_KEY_INVALID


@pytest.mark.parametrize("uri, canonical", [
    ("https://brand.example.com/01/09520123456788/10/LOT1?exp=240101", "https://id.gs1.org/01/09520123456788/10/LOT1"),
    ("https://example.com/some/prefix/01/9520123456788/10/L/21/S9", "https://id.gs1.org/01/09520123456788/21/S9"),
    ("http://id.gs1.org/00/040123450000003338", "https://id.gs1.org/00/040123450000003338"),
    ("https://r.example/414/4012345000115/254/987", "https://id.gs1.org/414/4012345000115/254/987"),
])
def test_digital_links_have_one_canonical_form(uri, canonical):
    assert digital_link.canonical(uri) == canonical


@pytest.mark.parametrize("uri, code", [
    ("https://example.com/01/09520123456789/10/LOT1", Code.GS1_CHECK_DIGIT),
    ("https://example.com/00/040123450000003339", Code.GS1_CHECK_DIGIT),
    ("https://example.com/414/4012345000116", Code.GS1_CHECK_DIGIT),
    ("https://example.com/01/95201234567/10/LOT1", Code.GS1_KEY_INVALID),
    ("https://example.com/01/09520123456788/10", Code.GS1_KEY_INVALID),
    ("https://example.com/01/09520123456788/21/S/10/L", Code.GS1_KEY_INVALID),
    ("https://example.com/01/09520123456788/254/1", Code.GS1_KEY_INVALID),
    ("https://example.com/01/09520123456788/10/" + "L" * 21, Code.GS1_KEY_INVALID),
    ("https://example.com/no/key/here", Code.GS1_KEY_INVALID),
])
def test_bad_digital_links_are_refused(uri, code):
    with pytest.raises(BaychainError) as exc:
        digital_link.parse(uri)
    assert exc.value.code == code


def test_lot_link_round_trips_and_escapes_the_lot():
    link = digital_link.lot_link("9520123456788", "A/B 7", "https://verify.baychain.example/")
    assert link == "https://verify.baychain.example/01/09520123456788/10/A%2FB%207"
    parsed = digital_link.parse(link)
    assert (parsed.gtin, parsed.lot) == ("09520123456788", "A/B 7")
    with pytest.raises(BaychainError):
        digital_link.lot_link("9520123456789", "L1")
    with pytest.raises(BaychainError):
        digital_link.lot_link("9520123456788", "L1", "ftp://x")
