"""GS1 keys: check digits, and EPC URIs turned into GS1 Digital Link URIs.

A GS1 key (GTIN for a trade item, SSCC for a logistic unit, GLN for a location or
party, ...) ends in a mod-10 check digit: from the right, digits are weighted 3, 1,
3, 1, ... and the check digit brings the weighted sum to a multiple of ten. A
mistyped digit always changes it, so a key with a wrong check digit is refused
before it can name the wrong pallet.

EPCIS 1.x wrote identifiers as EPC URNs (`urn:epc:id:sgtin:4012345.011111.987`),
which carry no check digit and split the key at the company prefix. EPCIS 2.0 and the
CBV 2.0 event hash use the canonical GS1 Digital Link form instead
(`https://id.gs1.org/01/04012345111118/21/987`); `epc_urn_to_digital_link` converts
the schemes a traceability chain meets (SGTIN, SSCC, SGLN, PGLN, GRAI, GIAI, GDTI,
LGTIN classes and SGTIN patterns), computing the check digits the URN leaves out.
"""

from __future__ import annotations

from baychain.errors import BaychainError, Code

CANONICAL_HOST = "https://id.gs1.org"


def check_digit(digits: str) -> str:
    """The GS1 mod-10 check digit for a string of digits (the key without its last digit)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        total += int(char) * (3 if position % 2 == 0 else 1)
    return str((10 - total % 10) % 10)


def check_key(digits: str, length: int, what: str) -> str:
    """A GS1 key of exactly `length` digits whose last digit is its check digit, or an error."""
    if len(digits) != length or not digits.isascii() or not digits.isdigit():
        raise BaychainError(Code.GS1_KEY_INVALID, f"a {what} has {length} digits, not {digits!r}")
    if check_digit(digits[:-1]) != digits[-1]:
        raise BaychainError(
            Code.GS1_CHECK_DIGIT,
            f"{what} {digits} has check digit {digits[-1]}; it should be {check_digit(digits[:-1])}",
        )
    return digits


def gtin14(digits: str) -> str:
    """A GTIN-8, -12, -13 or -14 checked and padded to the 14 digits Digital Link uses."""
    if len(digits) not in (8, 12, 13, 14):
        raise BaychainError(Code.GS1_KEY_INVALID, f"a GTIN has 8, 12, 13 or 14 digits, not {digits!r}")
    return check_key(digits.rjust(14, "0"), 14, "GTIN")


def sscc(digits: str) -> str:
    return check_key(digits, 18, "SSCC")


def gln(digits: str) -> str:
    return check_key(digits, 13, "GLN")


def _digits(text: str, what: str) -> str:
    if not text or not text.isascii() or not text.isdigit():
        raise BaychainError(Code.GS1_KEY_INVALID, f"{what} must be digits, not {text!r}")
    return text


def _fields(body: str, count: int, scheme: str) -> list[str]:
    parts = body.split(".")
    if len(parts) != count:
        raise BaychainError(Code.GS1_KEY_INVALID, f"an EPC {scheme} URN has {count} dot-separated fields: {body!r}")
    return parts


def _with_check(digits: str) -> str:
    return digits + check_digit(digits)


def _gtin_of(company: str, item: str, scheme: str) -> str:
    _digits(company, "a company prefix")
    _digits(item, "an item reference")
    if len(company) + len(item) != 13:
        raise BaychainError(Code.GS1_KEY_INVALID, f"company prefix and item reference of an {scheme} have 13 digits together")
    return _with_check(item[0] + company + item[1:])


def _text(value: str, what: str) -> str:
    if not value:
        raise BaychainError(Code.GS1_KEY_INVALID, f"{what} is empty")
    return value


def epc_urn_to_digital_link(urn: str) -> str:
    """The canonical Digital Link URI of an EPC URN (pure identity, class or SGTIN pattern)."""
    scheme_part, _, body = urn.removeprefix("urn:epc:").partition(":")
    scheme, _, body = body.partition(":")
    kind = f"{scheme_part}:{scheme}"
    if kind == "id:sgtin":
        company, item, serial = _fields(body, 3, "SGTIN")
        return f"{CANONICAL_HOST}/01/{_gtin_of(company, item, 'SGTIN')}/21/{_text(serial, 'the serial')}"
    if kind == "id:sscc":
        company, serial = _fields(body, 2, "SSCC")
        _digits(company, "a company prefix")
        _digits(serial, "a serial reference")
        if len(company) + len(serial) != 17:
            raise BaychainError(Code.GS1_KEY_INVALID, "company prefix and serial reference of an SSCC have 17 digits together")
        return f"{CANONICAL_HOST}/00/{_with_check(serial[0] + company + serial[1:])}"
    if kind == "id:sgln":
        company, location, extension = _fields(body, 3, "SGLN")
        key = _gln_of(company, location)
        suffix = "" if extension == "0" else f"/254/{_text(extension, 'the GLN extension')}"
        return f"{CANONICAL_HOST}/414/{key}{suffix}"
    if kind == "id:pgln":
        company, party = _fields(body, 2, "PGLN")
        return f"{CANONICAL_HOST}/417/{_gln_of(company, party)}"
    if kind == "id:giai":
        company, asset = _fields(body, 2, "GIAI")
        return f"{CANONICAL_HOST}/8004/{_digits(company, 'a company prefix')}{_text(asset, 'the asset reference')}"
    if kind == "id:grai":
        company, asset_type, serial = _fields(body, 3, "GRAI")
        digits = _digits(company, "a company prefix") + _digits(asset_type, "an asset type")
        if len(digits) != 12:
            raise BaychainError(Code.GS1_KEY_INVALID, "company prefix and asset type of a GRAI have 12 digits together")
        return f"{CANONICAL_HOST}/8003/0{_with_check(digits)}{serial}"
    if kind == "id:gdti":
        company, doc_type, serial = _fields(body, 3, "GDTI")
        digits = _digits(company, "a company prefix") + _digits(doc_type, "a document type")
        if len(digits) != 12:
            raise BaychainError(Code.GS1_KEY_INVALID, "company prefix and document type of a GDTI have 12 digits together")
        return f"{CANONICAL_HOST}/253/{_with_check(digits)}{serial}"
    if kind in ("id:gsrn", "id:gsrnp"):
        company, reference = _fields(body, 2, "GSRN")
        digits = _digits(company, "a company prefix") + _digits(reference, "a service reference")
        if len(digits) != 17:
            raise BaychainError(Code.GS1_KEY_INVALID, "company prefix and service reference of a GSRN have 17 digits together")
        return f"{CANONICAL_HOST}/{'8018' if scheme == 'gsrn' else '8017'}/{_with_check(digits)}"
    if kind == "class:lgtin":
        company, item, lot = _fields(body, 3, "LGTIN")
        return f"{CANONICAL_HOST}/01/{_gtin_of(company, item, 'LGTIN')}/10/{_text(lot, 'the lot')}"
    if kind == "idpat:sgtin":
        company, item, serial = _fields(body, 3, "SGTIN pattern")
        if serial != "*":
            raise BaychainError(Code.GS1_KEY_INVALID, f"only whole-GTIN SGTIN patterns (serial '*') are supported: {urn!r}")
        return f"{CANONICAL_HOST}/01/{_gtin_of(company, item, 'SGTIN pattern')}"
    raise BaychainError(Code.GS1_KEY_INVALID, f"unsupported EPC URN scheme {kind!r} in {urn!r}")


def _gln_of(company: str, reference: str) -> str:
    digits = _digits(company, "a company prefix") + (reference and _digits(reference, "a location reference"))
    if len(digits) != 12:
        raise BaychainError(Code.GS1_KEY_INVALID, "company prefix and location reference of a GLN have 12 digits together")
    return _with_check(digits)
