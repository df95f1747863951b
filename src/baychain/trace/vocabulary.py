"""CBV 2.0 standard vocabulary: the bare words EPCIS 2.0 JSON-LD uses and their Web URIs.

In JSON-LD a business step is written `"bizStep": "shipping"`; in XML and in the
CBV 2.0 event hash it is `https://ref.gs1.org/cbv/BizStep-shipping`, and EPCIS 1.x
wrote `urn:epcglobal:cbv:bizstep:shipping`. `expand` turns all three into the Web
URI, and refuses a bare word that is not a CBV term (a typo must not pass as a step).
"""

from __future__ import annotations

from baychain.errors import BaychainError, Code

CBV = "https://ref.gs1.org/cbv/"
GS1_VOC = "https://gs1.org/voc/"

BIZ_STEPS = (
    "accepting", "arriving", "assembling", "collecting", "commissioning", "consigning", "creating_class_instance",
    "cycle_counting", "decommissioning", "departing", "destroying", "disassembling", "dispensing", "encoding",
    "entering_exiting", "holding", "inspecting", "installing", "killing", "loading", "other", "packing", "picking",
    "receiving", "removing", "repackaging", "repairing", "replacing", "reserving", "retail_selling", "sampling",
    "sensor_reporting", "shipping", "staging_outbound", "stock_taking", "stocking", "storing", "transporting",
    "unloading", "unpacking", "void_shipping",
)
DISPOSITIONS = (
    "active", "available", "completeness_inferred", "completeness_verified", "conformant", "container_closed",
    "container_open", "damaged", "destroyed", "dispensed", "disposed", "encoded", "expired", "in_progress",
    "in_transit", "inactive", "mismatch_class", "mismatch_instance", "mismatch_quantity", "needs_replacement",
    "no_pedigree_match", "non_conformant", "non_sellable_other", "partially_dispensed", "recalled", "reserved",
    "retail_sold", "returned", "sellable_accessible", "sellable_not_accessible", "stolen", "unavailable", "unknown",
)
BIZ_TRANSACTION_TYPES = ("bol", "cert", "desadv", "inv", "pedigree", "po", "poc", "prodorder", "recadv", "rma",
                         "testprd", "testres", "upevt")
SOURCE_DEST_TYPES = ("location", "owning_party", "possessing_party")
ERROR_REASONS = ("did_not_occur", "incorrect_data")

# kind -> (Web URI prefix, EPCIS 1.x URN prefix, the bare words)
_KINDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "bizStep": (CBV + "BizStep-", "urn:epcglobal:cbv:bizstep:", BIZ_STEPS),
    "disposition": (CBV + "Disp-", "urn:epcglobal:cbv:disp:", DISPOSITIONS),
    "bizTransactionType": (CBV + "BTT-", "urn:epcglobal:cbv:btt:", BIZ_TRANSACTION_TYPES),
    "sourceDestType": (CBV + "SDT-", "urn:epcglobal:cbv:sdt:", SOURCE_DEST_TYPES),
    "errorReason": (CBV + "ER-", "urn:epcglobal:cbv:er:", ERROR_REASONS),
}

RECALLED = CBV + "Disp-recalled"


def expand(kind: str, value: str) -> str:
    """The Web URI of a CBV term given bare, as a CBV URN or as a URI (user vocabulary passes through)."""
    web, urn, words = _KINDS[kind]
    if value.startswith(urn):
        value = value[len(urn):]
    elif ":" in value:
        return value  # a Web URI already, or a user-defined vocabulary URI
    if value not in words:
        raise BaychainError(Code.EPCIS_INVALID, f"{value!r} is not a CBV {kind} term; use a CBV term or a URI")
    return web + value


def web_uri_of_urn(value: str) -> str:
    """A CBV URN value (any kind) as its Web URI; other values unchanged."""
    for web, urn, _ in _KINDS.values():
        if value.startswith(urn):
            return web + value[len(urn):]
    return value


def short(uri: str) -> str:
    """The bare word of a standard CBV Web URI (`https://ref.gs1.org/cbv/BizStep-shipping` → `shipping`)."""
    for web, _, _ in _KINDS.values():
        if uri.startswith(web):
            return uri[len(web):]
    return uri
