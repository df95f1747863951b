"""EPCIS 2.0 events from JSON-LD: parsed, validated and normalised for the ledger.

An EPCIS event records one step in a product's life along four dimensions: *what*
(EPCs, quantities of a class such as a lot, parent and children, inputs and outputs),
*when* (eventTime with its time-zone offset), *where* (readPoint, bizLocation) and
*why* (bizStep, disposition, business transactions, source and destination), plus
sensor readings (sensorElementList) and instance master data (ilmd). There are five
event types; `parse_document` accepts an EPCISDocument (or a single event) as the
EPCIS 2.0 JSON-LD binding writes it and returns one normalised event per input
event, or refuses the whole document with EPCIS_INVALID, GS1_KEY_INVALID or
GS1_CHECK_DIGIT and a sentence saying what is wrong.

Normalised means: every identifier in its canonical GS1 Digital Link form (EPC URNs
converted, check digits verified), CBV terms as Web URIs, timestamps in UTC at
millisecond precision, numbers as exact decimal strings (never floats: the ledger
holds no float), namespaced extension keys expanded to `{namespace}local`. Applying
the CBV 2.0 event hash (`event_hash.py`) to the normalised event gives the same hash as
applying it to the input, so the stored record is its own evidence.

The rules enforced beyond well-formedness are EPCIS 2.0's: ObjectEvent, Aggregation-,
Transaction- and AssociationEvent need an action (ADD, OBSERVE, DELETE) and
TransformationEvent has none; aggregation and association ADD/DELETE need a parentID
and ADD/OBSERVE need children; a TransactionEvent names at least one business
transaction; a TransformationEvent without transformationID has inputs and outputs;
every sensor element carries at least one report; an errorDeclaration has a
declarationTime.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from baychain.errors import BaychainError, Code
from baychain.trace import digital_link, gs1, vocabulary

EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent")
ACTIONS = ("ADD", "OBSERVE", "DELETE")
MAX_DOCUMENT_BYTES = 48_000
MAX_EVENTS = 16
MAX_LIST = 200
MAX_TEXT = 512
MAX_DEPTH = 6

EPC_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
SENSOR_METADATA = ("time", "startTime", "endTime", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "bizRules")
SENSOR_REPORT = ("type", "exception", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "time",
                 "microorganism", "chemicalSubstance", "value", "component", "stringValue", "booleanValue",
                 "hexBinaryValue", "uriValue", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue",
                 "uom", "coordinateReferenceSystem")
SENSOR_NUMBERS = ("value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue")
SENSOR_TIMES = ("time", "startTime", "endTime")
_IGNORED = ("@context", "recordTime", "type", "rdfs:comment", "comment")
# Value prefixes of the standard EPCIS 2.0 context (keys are expanded only by inline declarations,
# as GS1's reference implementation does).
STANDARD_PREFIXES = {"cbv": "https://ref.gs1.org/cbv/", "gs1": "https://gs1.org/voc/"}  # recordTime is the ledger's to set: the block time
_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$")
_OFFSET = re.compile(r"^[+-](\d{2}):(\d{2})$")
_NUMBER = re.compile(r"^-?\d{1,30}(\.\d{1,30})?([eE][+-]?\d{1,2})?$")

Event = dict[str, Any]


class JsonNumber(str):
    """A number as it was written in the JSON text (parsed without ever becoming a float)."""


def _invalid(message: str) -> BaychainError:
    return BaychainError(Code.EPCIS_INVALID, message)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _invalid(f"the key {key!r} appears twice in one JSON object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise _invalid(f"{name} is not a number EPCIS accepts")


def load_json(text: str) -> Any:
    """Strict JSON: numbers stay exact text, duplicate keys and NaN/Infinity are refused."""
    if len(text.encode()) > MAX_DOCUMENT_BYTES:
        raise BaychainError(Code.LIMIT_EXCEEDED, f"an EPCIS document may be at most {MAX_DOCUMENT_BYTES} bytes")
    try:
        return json.loads(text, parse_float=JsonNumber, parse_int=JsonNumber, parse_constant=_no_constant,
                          object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, BaychainError):
            raise
        raise _invalid(f"not valid JSON: {exc}") from None


# -- values ------------------------------------------------------------------------------


def canonical_time(value: Any, field: str) -> str:
    """An xsd:dateTimeStamp as UTC with milliseconds (`2024-05-01T00:00:00.123Z`); the third
    decimal is rounded up when the fourth is 5-9, as CBV 2.0 prescribes."""
    match = _TIME.match(value) if type(value) is str else None
    if match is None:
        raise _invalid(f"{field} must be a timestamp with a time zone such as 2024-05-01T08:00:00.000+08:00, not {value!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        offset = timedelta(0) if zone == "Z" else _offset_delta(zone, field)
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                          tzinfo=timezone(offset)).astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise _invalid(f"{field} is not a real moment: {value!r}") from None
    digits = (fraction or "").ljust(4, "0")
    millis = int(digits[:3]) + (1 if digits[3] in "56789" else 0)
    moment += timedelta(milliseconds=millis)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _offset_delta(zone: str, field: str) -> timedelta:
    match = _OFFSET.match(zone)
    hours, minutes = (int(match.group(1)), int(match.group(2))) if match else (99, 99)
    if hours > 14 or minutes > 59 or (hours == 14 and minutes):
        raise _invalid(f"{field}: {zone!r} is not a time-zone offset between -14:00 and +14:00")
    delta = timedelta(hours=hours, minutes=minutes)
    return -delta if zone.startswith("-") else delta


def canonical_number(value: Any, field: str) -> str:
    """A JSON number as an exact decimal string without trailing zeros or exponent (452.0 → 452)."""
    if type(value) is not JsonNumber or not _NUMBER.match(value):
        raise _invalid(f"{field} must be a JSON number, not {value!r}")
    try:
        text = format(Decimal(value), "f")
    except InvalidOperation:
        raise _invalid(f"{field} must be a number, not {value!r}") from None
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _text(value: Any, field: str) -> str:
    if type(value) is not str:
        raise _invalid(f"{field} must be a string, not {type(value).__name__}")
    text = value.strip()
    if not text or len(text) > MAX_TEXT:
        raise _invalid(f"{field} must be 1-{MAX_TEXT} characters")
    return text


def _expand_prefix(value: str, namespaces: dict[str, str]) -> str:
    prefix, sep, rest = value.partition(":")
    if sep and prefix in namespaces:
        return namespaces[prefix] + rest
    if sep and prefix in STANDARD_PREFIXES:
        return STANDARD_PREFIXES[prefix] + rest
    return value


def canonical_uri(value: str) -> str:
    """Any identifier value in its canonical form: EPC URNs and Digital Links as canonical
    Digital Links, CBV URNs as Web URIs, anything else unchanged."""
    if value.startswith("urn:epc:"):
        return gs1.epc_urn_to_digital_link(value)
    if value.startswith("urn:epcglobal:cbv:"):
        return vocabulary.web_uri_of_urn(value)
    if digital_link.is_digital_link(value):
        return digital_link.canonical(value)
    return value


def _uri(value: Any, field: str, namespaces: dict[str, str]) -> str:
    text = _expand_prefix(_text(value, field), namespaces)
    if ":" not in text or any(c.isspace() for c in text):
        raise _invalid(f"{field} must be an absolute URI, not {text!r}")
    return canonical_uri(text)


def canonical_epc(value: Any, field: str) -> str:
    """An EPC (instance or class) as a canonical Digital Link; other URIs are refused."""
    text = _text(value, field)
    if not (text.startswith("urn:epc:") or digital_link.is_digital_link(text)):
        raise BaychainError(Code.GS1_KEY_INVALID, f"{field}: {text!r} is neither an EPC URN nor a GS1 Digital Link URI")
    return canonical_uri(text)


def _list(value: Any, field: str) -> list[Any]:
    if type(value) is not list:
        raise _invalid(f"{field} must be a list")
    if len(value) > MAX_LIST:
        raise BaychainError(Code.LIMIT_EXCEEDED, f"{field} may hold at most {MAX_LIST} entries")
    return value


def _object(value: Any, field: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise _invalid(f"{field} must be an object")
    return value


def _only(obj: dict[str, Any], allowed: tuple[str, ...], field: str) -> None:
    for key in obj:
        if key not in allowed:
            raise _invalid(f"{field}: unknown field {key!r}")


# -- the parts of an event -------------------------------------------------------------------


def _quantity_list(value: Any, field: str) -> list[dict[str, str]]:
    out = []
    for i, element in enumerate(_list(value, field)):
        where = f"{field}[{i}]"
        element = _object(element, where)
        _only(element, ("epcClass", "quantity", "uom"), where)
        if "epcClass" not in element:
            raise _invalid(f"{where} needs an epcClass")
        item = {"epcClass": canonical_epc(element["epcClass"], f"{where}.epcClass")}
        if "quantity" in element:
            item["quantity"] = canonical_number(element["quantity"], f"{where}.quantity")
            if item["quantity"].startswith("-"):
                raise _invalid(f"{where}.quantity cannot be negative")
        if "uom" in element:
            if "quantity" not in element:
                raise _invalid(f"{where}: a uom needs a quantity")
            item["uom"] = _text(element["uom"], f"{where}.uom")
        out.append(item)
    return out


def _typed_list(value: Any, field: str, item_key: str, kind: str, namespaces: dict[str, str]) -> list[dict[str, str]]:
    out = []
    for i, element in enumerate(_list(value, field)):
        where = f"{field}[{i}]"
        element = _object(element, where)
        _only(element, ("type", item_key), where)
        if item_key not in element:
            raise _invalid(f"{where} needs {item_key!r}")
        item: dict[str, str] = {}
        if "type" in element:
            item["type"] = vocabulary.expand(kind, _expand_prefix(_text(element["type"], f"{where}.type"), namespaces))
        item[item_key] = _uri(element[item_key], f"{where}.{item_key}", namespaces)
        out.append(item)
    return out


def _location(value: Any, field: str, namespaces: dict[str, str]) -> dict[str, Any]:
    obj = _object(value, field)
    if "id" not in obj:
        raise _invalid(f"{field} needs an id")
    out: dict[str, Any] = {"id": _uri(obj["id"], f"{field}.id", namespaces)}
    for key, val in obj.items():
        if key != "id":
            out[_extension_key(key, field, namespaces)] = _extension(val, f"{field}.{key}", namespaces)
    return out


def _sensor_value(key: str, value: Any, where: str, namespaces: dict[str, str]) -> str:
    if key in SENSOR_NUMBERS:
        return canonical_number(value, where)
    if key in SENSOR_TIMES:
        return canonical_time(value, where)
    if key == "booleanValue":
        if type(value) is not bool:
            raise _invalid(f"{where} must be true or false")
        return "true" if value else "false"
    if key in ("type", "exception"):
        text = _expand_prefix(_text(value, where), namespaces)
        return text if ":" in text else vocabulary.GS1_VOC + text
    if key == "component":
        text = _expand_prefix(_text(value, where), namespaces)
        return text if ":" in text else vocabulary.CBV + "Comp-" + text
    if key in ("deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "bizRules", "uriValue",
               "microorganism", "chemicalSubstance", "coordinateReferenceSystem"):
        return _uri(value, where, namespaces)
    return _text(value, where)


def _sensor_part(value: Any, allowed: tuple[str, ...], where: str, namespaces: dict[str, str]) -> dict[str, str]:
    obj = _object(value, where)
    _only(obj, allowed, where)
    return {key: _sensor_value(key, obj[key], f"{where}.{key}", namespaces) for key in allowed if key in obj}


def _sensor_elements(value: Any, namespaces: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for i, element in enumerate(_list(value, "sensorElementList")):
        where = f"sensorElementList[{i}]"
        element = _object(element, where)
        _only(element, ("sensorMetadata", "sensorReport"), where)
        reports = _list(element.get("sensorReport", []), f"{where}.sensorReport")
        if not reports:
            raise _invalid(f"{where} has no sensorReport; every sensor element needs at least one")
        item: dict[str, Any] = {}
        if "sensorMetadata" in element:
            item["sensorMetadata"] = _sensor_part(element["sensorMetadata"], SENSOR_METADATA, f"{where}.sensorMetadata", namespaces)
        parsed = []
        for j, report in enumerate(reports):
            part = _sensor_part(report, SENSOR_REPORT, f"{where}.sensorReport[{j}]", namespaces)
            if "uom" in part and not any(k in part for k in SENSOR_NUMBERS):
                raise _invalid(f"{where}.sensorReport[{j}]: a uom needs a numeric value")
            parsed.append(part)
        item["sensorReport"] = parsed
        out.append(item)
    return out


def _extension(value: Any, where: str, namespaces: dict[str, str], depth: int = 0) -> Any:
    """A user extension or ILMD value: strings, exact numbers, objects with expanded keys, lists."""
    if depth > MAX_DEPTH:
        raise _invalid(f"{where} nests deeper than {MAX_DEPTH} levels")
    if type(value) is JsonNumber:
        return canonical_number(value, where)
    if type(value) is str:
        text = value.strip()
        if len(text) > MAX_TEXT:
            raise _invalid(f"{where} may be at most {MAX_TEXT} characters")
        return canonical_uri(_expand_prefix(text, namespaces)) if ":" in text and " " not in text else text
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is list:
        return [_extension(v, where, namespaces, depth + 1) for v in _list(value, where)]
    if type(value) is dict:
        return {_extension_key(k, where, namespaces): _extension(v, f"{where}.{k}", namespaces, depth + 1)
                for k, v in value.items()}
    raise _invalid(f"{where}: null is not a value")


def _extension_key(key: str, where: str, namespaces: dict[str, str]) -> str:
    prefix, sep, local = key.partition(":")
    if not sep or not prefix or not local:
        raise _invalid(f"{where}: {key!r} is not an EPCIS field; extensions need a namespace prefix (prefix:name)")
    return "{" + namespaces[prefix] + "}" + local if prefix in namespaces else key


def _error_declaration(value: Any, namespaces: dict[str, str]) -> dict[str, Any]:
    obj = _object(value, "errorDeclaration")
    if "declarationTime" not in obj:
        raise _invalid("errorDeclaration needs a declarationTime")
    out: dict[str, Any] = {"declarationTime": canonical_time(obj["declarationTime"], "errorDeclaration.declarationTime")}
    for key, val in obj.items():
        if key == "declarationTime":
            continue
        if key == "reason":
            out["reason"] = vocabulary.expand("errorReason", _expand_prefix(_text(val, "errorDeclaration.reason"), namespaces))
        elif key == "correctiveEventIDs":
            out["correctiveEventIDs"] = [_uri(v, "errorDeclaration.correctiveEventIDs", namespaces)
                                         for v in _list(val, "errorDeclaration.correctiveEventIDs")]
        else:
            out.setdefault("extensions", {})[_extension_key(key, "errorDeclaration", namespaces)] = _extension(
                val, f"errorDeclaration.{key}", namespaces)
    return out


# -- events ---------------------------------------------------------------------------------------


def parse_event(raw: Any, namespaces: dict[str, str]) -> Event:
    """Validate one EPCIS 2.0 JSON-LD event and return it normalised (see the module docstring)."""
    obj = _object(raw, "an event")
    namespaces = {**namespaces, **context_namespaces(obj.get("@context"))}
    kind = obj.get("type")
    if kind not in EVENT_TYPES:
        raise _invalid(f"event type must be one of {', '.join(EVENT_TYPES)}, not {kind!r}")
    event: Event = {"type": kind}
    if "eventTime" not in obj:
        raise _invalid(f"{kind} needs an eventTime")
    event["eventTime"] = canonical_time(obj["eventTime"], "eventTime")
    offset = obj.get("eventTimeZoneOffset")
    if type(offset) is not str or not _OFFSET.match(offset):
        raise _invalid(f"{kind} needs an eventTimeZoneOffset such as +08:00, not {offset!r}")
    _offset_delta(offset, "eventTimeZoneOffset")
    event["eventTimeZoneOffset"] = offset
    extensions: dict[str, Any] = {}
    for key, value in obj.items():
        if key in _IGNORED or key in ("eventTime", "eventTimeZoneOffset"):
            continue
        if key == "certificationInfo":
            values = value if type(value) is list else [value]
            event["certificationInfo"] = [_uri(v, "certificationInfo", namespaces) for v in _list(values, key)]
        elif key == "eventID":
            event["eventID"] = _uri(value, "eventID", namespaces)
        elif key == "errorDeclaration":
            event["errorDeclaration"] = _error_declaration(value, namespaces)
        elif key == "parentID":
            event["parentID"] = canonical_epc(value, "parentID")
        elif key in EPC_LISTS:
            event[key] = [canonical_epc(v, f"{key}[{i}]") for i, v in enumerate(_list(value, key))]
        elif key in QUANTITY_LISTS:
            event[key] = _quantity_list(value, key)
        elif key == "action":
            if value not in ACTIONS:
                raise _invalid(f"action must be ADD, OBSERVE or DELETE, not {value!r}")
            event["action"] = value
        elif key == "transformationID":
            event["transformationID"] = _uri(value, "transformationID", namespaces)
        elif key == "bizStep":
            event["bizStep"] = vocabulary.expand("bizStep", _expand_prefix(_text(value, "bizStep"), namespaces))
        elif key == "disposition":
            event["disposition"] = vocabulary.expand("disposition", _expand_prefix(_text(value, "disposition"), namespaces))
        elif key == "persistentDisposition":
            event["persistentDisposition"] = _persistent_disposition(value, namespaces)
        elif key in ("readPoint", "bizLocation"):
            event[key] = _location(value, key, namespaces)
        elif key == "bizTransactionList":
            event[key] = _typed_list(value, key, "bizTransaction", "bizTransactionType", namespaces)
        elif key == "sourceList":
            event[key] = _typed_list(value, key, "source", "sourceDestType", namespaces)
        elif key == "destinationList":
            event[key] = _typed_list(value, key, "destination", "sourceDestType", namespaces)
        elif key == "sensorElementList":
            event[key] = _sensor_elements(value, namespaces)
        elif key == "ilmd":
            event["ilmd"] = {_extension_key(k, "ilmd", namespaces): _extension(v, f"ilmd.{k}", namespaces)
                             for k, v in _object(value, "ilmd").items()}
        else:
            extensions[_extension_key(key, kind, namespaces)] = _extension(value, key, namespaces)
    if extensions:
        event["extensions"] = extensions
    _check_structure(event)
    return event


def _persistent_disposition(value: Any, namespaces: dict[str, str]) -> dict[str, list[str]]:
    obj = _object(value, "persistentDisposition")
    _only(obj, ("set", "unset"), "persistentDisposition")
    return {key: [vocabulary.expand("disposition", _expand_prefix(_text(v, f"persistentDisposition.{key}"), namespaces))
                  for v in _list(obj[key], f"persistentDisposition.{key}")]
            for key in ("set", "unset") if key in obj}


_ALLOWED_WHAT = {
    "ObjectEvent": ("epcList", "quantityList"),
    "AggregationEvent": ("parentID", "childEPCs", "childQuantityList"),
    "TransactionEvent": ("parentID", "epcList", "quantityList"),
    "TransformationEvent": ("inputEPCList", "inputQuantityList", "outputEPCList", "outputQuantityList"),
    "AssociationEvent": ("parentID", "childEPCs", "childQuantityList"),
}


def _check_structure(event: Event) -> None:
    kind = event["type"]
    what = ("parentID",) + EPC_LISTS + QUANTITY_LISTS
    for field in what:
        if field in event and field not in _ALLOWED_WHAT[kind]:
            raise _invalid(f"{kind} has no field {field}")
    if kind != "ObjectEvent" and "ilmd" in event and kind != "TransformationEvent":
        raise _invalid(f"{kind} has no ilmd (only ObjectEvent and TransformationEvent carry instance master data)")
    if kind == "TransformationEvent":
        if "action" in event:
            raise _invalid("a TransformationEvent has no action")
        inputs = event.get("inputEPCList") or event.get("inputQuantityList")
        outputs = event.get("outputEPCList") or event.get("outputQuantityList")
        if "transformationID" not in event and not (inputs and outputs):
            raise _invalid("a TransformationEvent without transformationID needs at least one input and one output")
        if not (inputs or outputs):
            raise _invalid("a TransformationEvent needs inputs or outputs")
        return
    if "transformationID" in event:
        raise _invalid(f"{kind} has no transformationID")
    action = event.get("action")
    if action is None:
        raise _invalid(f"{kind} needs an action (ADD, OBSERVE or DELETE)")
    children = event.get("childEPCs") or event.get("childQuantityList")
    if kind in ("AggregationEvent", "AssociationEvent"):
        if "parentID" not in event and (action != "OBSERVE" or kind == "AssociationEvent"):
            raise _invalid(f"an {kind} with action {action} needs a parentID")
        if action in ("ADD", "OBSERVE") and not children:
            raise _invalid(f"an {kind} with action {action} needs childEPCs or childQuantityList")
    elif kind == "ObjectEvent":
        if not (event.get("epcList") or event.get("quantityList")):
            raise _invalid("an ObjectEvent needs epcList or quantityList entries")
        if "ilmd" in event and action != "ADD":
            raise _invalid("ilmd belongs to an ObjectEvent with action ADD (commissioning)")
    elif kind == "TransactionEvent":
        if not event.get("bizTransactionList"):
            raise _invalid("a TransactionEvent needs a bizTransactionList")
        if not (event.get("epcList") or event.get("quantityList") or "parentID" in event):
            raise _invalid("a TransactionEvent needs epcList, quantityList or parentID")


def context_namespaces(context: Any) -> dict[str, str]:
    """Prefixes an inline @context declares (`{"ex": "https://ns.example.com/epcis/"}`); the
    standard EPCIS context given by URL declares none that the event hash expands."""
    out: dict[str, str] = {}
    items = context if type(context) is list else [context] if context is not None else []
    for item in items:
        if type(item) is dict:
            for prefix, uri in item.items():
                if type(uri) is str and ":" in uri and prefix and ":" not in prefix:
                    out[prefix] = uri
        elif type(item) is not str:
            raise _invalid("@context must be URLs and objects of prefix declarations")
    return out


def parse_document(text: str) -> list[Event]:
    """Every event of an EPCISDocument (or of a single event object), validated and normalised."""
    doc = _object(load_json(text), "an EPCIS document")
    namespaces = context_namespaces(doc.get("@context"))
    if doc.get("type") == "EPCISDocument":
        body = _object(doc.get("epcisBody"), "epcisBody")
        if "eventList" in body:
            raw_events = _list(body["eventList"], "epcisBody.eventList")
        elif "event" in body:
            raw_events = [body["event"]]
        else:
            raise _invalid("epcisBody needs an eventList")
    elif doc.get("type") == "EPCISQueryDocument":
        body = _object(_object(_object(doc.get("epcisBody"), "epcisBody").get("queryResults"), "queryResults")
                       .get("resultsBody"), "resultsBody")
        raw_events = _list(body.get("eventList"), "resultsBody.eventList")
    elif doc.get("type") in EVENT_TYPES:
        raw_events = [doc]
    else:
        raise _invalid("expected an EPCISDocument or a single EPCIS event")
    if not raw_events:
        raise _invalid("the document holds no event")
    if len(raw_events) > MAX_EVENTS:
        raise BaychainError(Code.LIMIT_EXCEEDED, f"capture at most {MAX_EVENTS} events per transaction")
    events = []
    for i, raw in enumerate(raw_events):
        try:
            events.append(parse_event(raw, namespaces))
        except BaychainError as exc:
            raise BaychainError(exc.code, f"event {i}: {exc.message}") from None
    return events


# -- what an event names ------------------------------------------------------------------------


def what_ids(event: Event) -> list[str]:
    """Every object or class an event names (EPCs, parent, epcClasses), each once, in field order."""
    ids: list[str] = []
    if "parentID" in event:
        ids.append(event["parentID"])
    for field in EPC_LISTS:
        ids.extend(event.get(field, []))
    for field in QUANTITY_LISTS:
        ids.extend(q["epcClass"] for q in event.get(field, []))
    return list(dict.fromkeys(ids))


def where_of(event: Event) -> str:
    """Where the event leaves its objects: the business location, else the read point, else ''."""
    for field in ("bizLocation", "readPoint"):
        if field in event:
            return event[field]["id"]
    return ""


def lot_number(event: Event) -> str:
    """The lot number an ObjectEvent's ILMD assigns to the items it commissions ('' if none)."""
    for key, value in event.get("ilmd", {}).items():
        if (key.endswith("}lotNumber") or key.endswith(":lotNumber")) and type(value) is str:
            return value
    return ""
