"""The CBV 2.0 EPCIS event hash: one identifier for one event, whatever its serialisation.

CBV 2.0 (section 8.9) defines an event hash ID so that partners can put only a
hash of an event on a ledger and still agree on which event it names: the same event
written as XML or JSON-LD, with its lists in another order, hashes the same; any
changed value, added or removed field changes the hash. The hash is SHA-256 over a
*pre-hash string* and is written as an RFC 6920 named-information URI:

    ni:///sha-256;<64 hex digits>?ver=CBV2.0

The pre-hash string concatenates `key=value` pieces without separators, from the
normalised event (`epcis.py` has already made identifiers canonical Digital Links, CBV
terms Web URIs, timestamps UTC milliseconds, numbers without trailing zeros):

1. `eventType=<type>`, then the fields below in this canonical order, each only if
   present: eventTime, eventTimeZoneOffset, certificationInfo, parentID, epcList, inputEPCList,
   childEPCs, quantityList, childQuantityList, inputQuantityList, outputEPCList,
   outputQuantityList, action, transformationID, bizStep, disposition,
   persistentDisposition (set, unset), readPoint and bizLocation (id, then their
   extensions sorted),
   sensorElementList (sensorMetadata fields, then sensorReport fields, each in the
   CBV order).
2. A list is written as its name once, then its elements' strings (`epc=<uri>`,
   `quantityElement` + `epcClass=...quantity=...uom=...`, ...) sorted by code point.
3. Then the remaining fields, each rendered the same way and the pieces sorted by code
   point: bizTransactionList, sourceList and destinationList (elements written as
   `type=<uri>` followed by `bizTransaction=<uri>`, `source=...`, `destination=...`),
   `ilmd` and user extensions (keys as `{namespace}local`, nested objects inline,
   siblings sorted).
4. Every value that reads as a number (decimal, optionally with an exponent) is written
   as GS1's reference implementation writes it: without leading or trailing zeros
   (`1.50` → `1.5`, `007` → `7`), exponents expanded (`12E3` → `12000`), and values below
   10^-4 in Python's float notation (`0.00001` → `1e-05`); see `_numeric`.
5. eventID, recordTime and errorDeclaration are not part of the hash: an error
   declaration carries the very event it retracts, so it hashes to the same ID.

Step 3 follows GS1's reference implementation and its published test files (where
the business transaction, source and destination lists fall among the sorted
remaining fields), so baychain's hashes match theirs; tests/vectors/epcis_hash.json
holds those vectors.
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from typing import Any

from baychain.errors import BaychainError, Code

VERSION = "CBV2.0"
_DIGITS = r"[0-9](?:_?[0-9]){0,29}"  # as float() reads them: single underscores between digits
_NUMBER = re.compile(rf"^[+-]?(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][+-]?[0-9](?:_?[0-9]){{0,2}})?$")
_NI = re.compile(r"^ni:///sha-256;([0-9a-f]{64})\?ver=CBV2\.0$")

_ORDERED_LISTS = ("epcList", "inputEPCList", "childEPCs")
_QUANTITIES_FIRST = ("quantityList", "childQuantityList", "inputQuantityList")
_METADATA = ("time", "startTime", "endTime", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "bizRules")
_REPORT = ("type", "exception", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "time",
           "microorganism", "chemicalSubstance", "value", "component", "stringValue", "booleanValue",
           "hexBinaryValue", "uriValue", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue",
           "uom", "coordinateReferenceSystem")
_TYPED_LISTS = {"bizTransactionList": "bizTransaction", "sourceList": "source", "destinationList": "destination"}


def _numeric(text: str) -> str:
    """A value that reads as a number, written as GS1's reference implementation writes it.

    The reference reads every value with Python's float() and writes a whole number back
    as an integer and any other as Python prints that float: '007' → '7', '1.50' → '1.5',
    '12E3' → '12000' (so a batch code like '12E3' is a number too), '1_000' → '1000',
    '0.00001' → '1e-05'.
    Here the same is done exactly, with decimals (no floats in the state machine); both
    agree on every number of up to 15 significant digits below 2^53 in magnitude, beyond
    which the reference's own float rounding shows. Exponents have at most three digits,
    so no value expands to more than ~1,000 digits."""
    if not _NUMBER.match(text):
        return text
    value = Decimal(text)
    if value == value.to_integral_value():
        return str(int(value))
    sign, digits, exponent = value.as_tuple()
    while digits[-1] == 0:  # a non-integral value has a non-zero digit after the point
        digits, exponent = digits[:-1], exponent + 1
    adjusted = exponent + len(digits) - 1  # the power of ten of the first digit
    if adjusted < -4:  # as Python prints a float this small: 1.5e-05
        mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
        return ("-" if sign else "") + f"{mantissa}e-{-adjusted:02d}"
    return format(value, "f").rstrip("0")


def _pair(key: str, value: str) -> str:
    value = _numeric(value.strip())
    return f"{key}={value}" if value else ""


def _epcs(name: str, values: list[str]) -> str:
    pieces = sorted(p for p in (_pair("epc", v) for v in values) if p)
    return name + "".join(pieces) if pieces else ""


def _quantities(name: str, elements: list[dict[str, str]]) -> str:
    pieces = sorted("quantityElement" + "".join(_pair(k, q[k]) for k in ("epcClass", "quantity", "uom") if k in q)
                    for q in elements)
    return name + "".join(pieces) if pieces else ""


def _fields(name: str, obj: dict[str, str], order: tuple[str, ...]) -> str:
    body = "".join(_pair(k, obj[k]) for k in order if k in obj)
    return name + body if body else ""


def _sensor_elements(elements: list[dict[str, Any]]) -> str:
    pieces = []
    for element in elements:
        metadata = _fields("sensorMetadata", element.get("sensorMetadata", {}), _METADATA)
        reports = sorted(p for p in (_fields("sensorReport", r, _REPORT) for r in element["sensorReport"]) if p)
        pieces.append("sensorElement" + metadata + "".join(reports))
    return "sensorElementList" + "".join(sorted(pieces)) if pieces else ""


def _generic(key: str, value: Any) -> list[str]:
    """A user extension or ILMD entry: `key=value`, or `key` followed by its sorted children; a
    list gives one sibling per element."""
    if type(value) is list:
        return [piece for element in value for piece in _generic(key, element)]
    if type(value) is dict:
        children = sorted(piece for k, v in value.items() for piece in _generic(k, v))
        return [key + "".join(children)]
    text = _numeric(str(value).strip())
    return [f"{key}={text}" if text else key]


def _typed(name: str, item_key: str, elements: list[dict[str, str]]) -> str:
    pieces = sorted(_pair("type", e.get("type", "")) + _pair(item_key, e[item_key]) for e in elements)
    return name + "".join(pieces) if pieces else ""


def prehash(event: dict[str, Any]) -> str:
    """The CBV 2.0 pre-hash string of a normalised event (see the module docstring)."""
    out = [f"eventType={event['type']}"]
    for key in ("eventTime", "eventTimeZoneOffset"):
        if key in event:
            out.append(_pair(key, event[key]))
    out.append("".join(sorted(_pair("certificationInfo", v) for v in event.get("certificationInfo", []))))
    if "parentID" in event:
        out.append(_pair("parentID", event["parentID"]))
    for key in _ORDERED_LISTS:
        out.append(_epcs(key, event.get(key, [])))
    for key in _QUANTITIES_FIRST:
        out.append(_quantities(key, event.get(key, [])))
    out.append(_epcs("outputEPCList", event.get("outputEPCList", [])))
    out.append(_quantities("outputQuantityList", event.get("outputQuantityList", [])))
    for key in ("action", "transformationID", "bizStep", "disposition"):
        if key in event:
            out.append(_pair(key, event[key]))
    if "persistentDisposition" in event:
        pd = event["persistentDisposition"]
        body = "".join("".join(sorted(_pair(k, v) for v in pd.get(k, []))) for k in ("set", "unset"))
        out.append("persistentDisposition" + body if body else "")
    for key in ("readPoint", "bizLocation"):
        if key in event:
            extras = sorted(p for k, v in event[key].items() if k != "id" for p in _generic(k, v))
            out.append(_fields(key, event[key], ("id",)) + "".join(extras))
    out.append(_sensor_elements(event.get("sensorElementList", [])))
    rest: list[str] = []
    for key, item_key in _TYPED_LISTS.items():
        if event.get(key):
            rest.append(_typed(key, item_key, event[key]))
    if "ilmd" in event:
        rest.extend(_generic("ilmd", event["ilmd"]))
    for key, value in event.get("extensions", {}).items():
        rest.extend(_generic(key, value))
    return "".join(out) + "".join(sorted(p for p in rest if p))


def digest(event: dict[str, Any]) -> bytes:
    """SHA-256 of the pre-hash string: the 32 bytes the ledger keys events by."""
    return hashlib.sha256(prehash(event).encode()).digest()


def ni_uri(digest_bytes: bytes) -> str:
    """The event hash ID as CBV 2.0 writes it."""
    return f"ni:///sha-256;{digest_bytes.hex()}?ver={VERSION}"


def event_hash(event: dict[str, Any]) -> str:
    """The CBV 2.0 event hash ID of a normalised event."""
    return ni_uri(digest(event))


def parse_hash(text: str) -> bytes:
    """An event hash given as its ni URI or as 64 hex digits, as 32 bytes."""
    match = _NI.match(text)
    hex_digits = match.group(1) if match else text.removeprefix("0x")
    if len(hex_digits) != 64 or any(c not in "0123456789abcdef" for c in hex_digits):
        raise BaychainError(Code.BAD_ARGUMENTS, f"{text!r} is not an event hash (ni:///sha-256;<hex>?ver=CBV2.0 or 64 hex digits)")
    return bytes.fromhex(hex_digits)
