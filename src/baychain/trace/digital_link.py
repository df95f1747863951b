"""GS1 Digital Link URIs: what a QR code on a package says, and the canonical id of a thing.

A Digital Link URI is a web address whose path is a GS1 key and its qualifiers, as
pairs of application identifier (AI) and value:

    https://<resolver>/01/<GTIN-14>/10/<lot>/21/<serial>?<data attributes>

Any domain may serve it (a brand's own resolver, or baychain's verification page);
the key is what identifies the thing. The *constrained canonical* form that CBV 2.0
hashes and that baychain indexes by replaces the domain with https://id.gs1.org,
drops the query string, pads a GTIN to 14 digits and keeps only the finest level of
identification (a serial wins over a lot: `/01/g/10/l/21/s` names the item
`/01/g/21/s`). Check digits are verified on every key that has one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from baychain.errors import BaychainError, Code
from baychain.trace import gs1

_URI = re.compile(r"^https?://[^/?#\s]+(?P<path>/[^?#\s]*)(?:\?[^#\s]*)?(?:#\S*)?$")
# Primary keys: AI -> (what, validator of the value). Qualifiers allowed after each key.
_PRIMARY = ("00", "01", "253", "255", "401", "402", "414", "417", "8003", "8004", "8006", "8010", "8017", "8018")
_QUALIFIERS = {"01": ("22", "10", "21", "235"), "8006": ("22", "10", "21"), "414": ("254",), "8010": ("8011",)}
_MAX_VALUE = {"10": 20, "21": 20, "22": 20, "235": 28, "254": 20, "8011": 12, "401": 30, "8004": 30, "8010": 30}


@dataclass(frozen=True, slots=True)
class DigitalLink:
    """A parsed Digital Link: the primary key and its qualifiers, in path order."""

    key_ai: str
    key: str
    qualifiers: tuple[tuple[str, str], ...] = ()

    def qualifier(self, ai: str) -> str:
        for name, value in self.qualifiers:
            if name == ai:
                return value
        return ""

    @property
    def gtin(self) -> str:
        return self.key if self.key_ai == "01" else ""

    @property
    def lot(self) -> str:
        return unquote(self.qualifier("10"))

    @property
    def serial(self) -> str:
        return unquote(self.qualifier("21"))

    def canonical(self) -> str:
        """The constrained canonical URI: id.gs1.org, finest level of identification only."""
        finest: tuple[tuple[str, str], ...] = ()
        if self.key_ai in ("01", "8006"):
            for ai in ("21", "10", "235"):
                if self.qualifier(ai) and not (ai == "235" and self.key_ai == "8006"):
                    finest = ((ai, self.qualifier(ai)),)
                    break
        elif self.key_ai in ("414", "8010"):
            finest = tuple(q for q in self.qualifiers if q[0] in _QUALIFIERS[self.key_ai])
        tail = "".join(f"/{ai}/{value}" for ai, value in finest)
        return f"{gs1.CANONICAL_HOST}/{self.key_ai}/{self.key}{tail}"


def is_digital_link(uri: str) -> bool:
    """True if `uri` is an http(s) URI whose path holds a GS1 primary key (whether valid or not)."""
    match = _URI.match(uri)
    if match is None:
        return False
    segments = match.group("path").strip("/").split("/")
    return any(seg in _PRIMARY and i + 1 < len(segments) for i, seg in enumerate(segments))


def parse(uri: str) -> DigitalLink:
    """Parse and check a Digital Link URI (check digits, value lengths, allowed qualifiers)."""
    match = _URI.match(uri)
    if match is None:
        raise BaychainError(Code.GS1_KEY_INVALID, f"{uri!r} is not an http(s) URI")
    segments = match.group("path").strip("/").split("/")
    start = next((i for i, seg in enumerate(segments) if seg in _PRIMARY), None)
    if start is None or start + 1 >= len(segments):
        raise BaychainError(Code.GS1_KEY_INVALID, f"{uri!r} holds no GS1 primary key (such as /01/<GTIN>)")
    pairs = segments[start:]
    if len(pairs) % 2:
        raise BaychainError(Code.GS1_KEY_INVALID, f"{uri!r}: every application identifier needs a value")
    key_ai, key = pairs[0], _check_primary(pairs[0], pairs[1])
    qualifiers: list[tuple[str, str]] = []
    allowed = _QUALIFIERS.get(key_ai, ())
    for i in range(2, len(pairs), 2):
        ai, value = pairs[i], pairs[i + 1]
        if ai not in allowed:
            raise BaychainError(Code.GS1_KEY_INVALID, f"{uri!r}: AI {ai} cannot qualify AI {key_ai}")
        if any(ai == seen for seen, _ in qualifiers) or (qualifiers and allowed.index(ai) < allowed.index(qualifiers[-1][0])):
            raise BaychainError(Code.GS1_KEY_INVALID, f"{uri!r}: qualifiers must appear once, in the order {'/'.join(allowed)}")
        qualifiers.append((ai, _check_value(ai, value)))
    return DigitalLink(key_ai, key, tuple(qualifiers))


def canonical(uri: str) -> str:
    """The constrained canonical form of a Digital Link URI (see the module docstring)."""
    return parse(uri).canonical()


def lot_link(gtin: str, lot: str, resolver: str = gs1.CANONICAL_HOST) -> str:
    """The Digital Link URI of a lot (batch) of a trade item: `<resolver>/01/<GTIN-14>/10/<lot>`."""
    if not resolver.startswith(("https://", "http://")):
        raise BaychainError(Code.GS1_KEY_INVALID, f"the resolver must be an http(s) URL, not {resolver!r}")
    value = _check_value("10", quote(lot, safe=""))
    return f"{resolver.rstrip('/')}/01/{gs1.gtin14(gtin)}/10/{value}"


def _check_primary(ai: str, value: str) -> str:
    if ai == "00":
        return gs1.sscc(value)
    if ai == "01":
        return gs1.gtin14(value)
    if ai in ("414", "417"):
        return gs1.gln(value)
    if ai in ("402",):
        return gs1.check_key(value, 17, "GSIN")
    if ai in ("8017", "8018"):
        return gs1.check_key(value, 18, "GSRN")
    if ai in ("253", "255"):
        gs1.check_key(value[:13], 13, "GDTI" if ai == "253" else "GCN")
        return _check_value(ai, value, 13 + (17 if ai == "253" else 12))
    if ai == "8003":
        if not value.startswith("0"):
            raise BaychainError(Code.GS1_KEY_INVALID, f"a GRAI starts with 0: {value!r}")
        gs1.check_key(value[:14], 14, "GRAI")
        return _check_value(ai, value, 30)
    if ai == "8006":
        if len(value) != 18 or not value.isdigit():
            raise BaychainError(Code.GS1_KEY_INVALID, f"an ITIP has 18 digits, not {value!r}")
        gs1.check_key(value[:14], 14, "GTIN")
        return value
    return _check_value(ai, value)


def _check_value(ai: str, value: str, limit: int | None = None) -> str:
    text = unquote(value)
    limit = limit if limit is not None else _MAX_VALUE.get(ai, 30)
    if not text or len(text) > limit or not text.isprintable() or not text.isascii():
        raise BaychainError(Code.GS1_KEY_INVALID, f"the value of AI {ai} must be 1-{limit} printable ASCII characters, not {text!r}")
    return value
