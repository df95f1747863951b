"""EPCIS 2.0 JSON-LD documents of one Greater Bay Area cold chain, built for the tests.

A Guangdong orchard harvests a lot of oranges; a Guangzhou juice works turns them into a
lot of juice, commissions bottles into it and packs them onto a pallet (SSCC); a Hong
Kong logistics firm ships the pallet with temperature readings; a Macao importer
receives and unpacks it at its store.
"""

from __future__ import annotations

from typing import Any

from baychain.trace import gs1

CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
           {"cbvmda": "urn:epcglobal:cbv:mda:"}, {"gba": "https://baychain.example/epcis/"}]
PREFIX = "6901234"
ORANGES = (PREFIX, "000001")  # company prefix, item reference
JUICE = (PREFIX, "000002")
ORANGE_LOT = "ORG-2405"
JUICE_LOT = "JC-0501"
FARM_GLN = "urn:epc:id:sgln:6901234.00001.0"
WORKS_GLN = "urn:epc:id:sgln:6901234.00002.0"
HK_WAREHOUSE = "urn:epc:id:sgln:4890001.00010.0"
MO_STORE = "urn:epc:id:sgln:9580001.00020.0"
PALLET = "urn:epc:id:sscc:6901234.0000000001"


def gtin(item: tuple[str, str]) -> str:
    company, ref = item
    body = ref[0] + company + ref[1:]
    return body + gs1.check_digit(body)


def lgtin(item: tuple[str, str], lot: str) -> str:
    return f"urn:epc:class:lgtin:{item[0]}.{item[1]}.{lot}"


def bottle(serial: int) -> str:
    return f"urn:epc:id:sgtin:{JUICE[0]}.{JUICE[1]}.{serial}"


def document(*events: dict[str, Any]) -> dict[str, Any]:
    return {"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2024-05-01T00:00:00Z", "epcisBody": {"eventList": list(events)}}


def harvest(time: str = "2024-05-01T06:00:00+08:00", quantity: Any = 500) -> dict[str, Any]:
    return {"type": "ObjectEvent", "eventTime": time, "eventTimeZoneOffset": "+08:00", "action": "ADD",
            "quantityList": [{"epcClass": lgtin(ORANGES, ORANGE_LOT), "quantity": quantity, "uom": "KGM"}],
            "bizStep": "commissioning", "disposition": "active",
            "readPoint": {"id": FARM_GLN}, "bizLocation": {"id": FARM_GLN}}


def press(time: str = "2024-05-02T09:00:00+08:00") -> dict[str, Any]:
    return {"type": "TransformationEvent", "eventTime": time, "eventTimeZoneOffset": "+08:00",
            "inputQuantityList": [{"epcClass": lgtin(ORANGES, ORANGE_LOT), "quantity": 500, "uom": "KGM"}],
            "outputQuantityList": [{"epcClass": lgtin(JUICE, JUICE_LOT), "quantity": 300, "uom": "LTR"}],
            "bizStep": "commissioning", "readPoint": {"id": WORKS_GLN}, "bizLocation": {"id": WORKS_GLN}}


def bottle_up(serials: list[int], time: str = "2024-05-02T10:00:00+08:00") -> dict[str, Any]:
    return {"type": "ObjectEvent", "eventTime": time, "eventTimeZoneOffset": "+08:00", "action": "ADD",
            "epcList": [bottle(s) for s in serials], "bizStep": "commissioning", "disposition": "active",
            "bizLocation": {"id": WORKS_GLN}, "ilmd": {"cbvmda:lotNumber": JUICE_LOT}}


def pack(serials: list[int], time: str = "2024-05-02T11:00:00+08:00") -> dict[str, Any]:
    return {"type": "AggregationEvent", "eventTime": time, "eventTimeZoneOffset": "+08:00", "action": "ADD",
            "parentID": PALLET, "childEPCs": [bottle(s) for s in serials], "bizStep": "packing",
            "bizLocation": {"id": WORKS_GLN}}


def ship(readings: list[tuple[str, Any, str]], time: str = "2024-05-03T08:00:00+08:00") -> dict[str, Any]:
    """The HK firm ships the pallet; readings are (time, value, uom) of the cold chain."""
    return {"type": "ObjectEvent", "eventTime": time, "eventTimeZoneOffset": "+08:00", "action": "OBSERVE",
            "epcList": [PALLET], "bizStep": "shipping", "disposition": "in_transit",
            "readPoint": {"id": HK_WAREHOUSE}, "bizLocation": {"id": HK_WAREHOUSE},
            "bizTransactionList": [{"type": "desadv", "bizTransaction": "urn:epcglobal:cbv:bt:4890001000104:D-77"}],
            "sensorElementList": [{"sensorMetadata": {"time": t}, "sensorReport": [{"type": "Temperature", "value": v, "uom": u}]}
                                  for t, v, u in readings]}


def receive(time: str = "2024-05-04T09:00:00+08:00") -> dict[str, Any]:
    return {"type": "ObjectEvent", "eventTime": time, "eventTimeZoneOffset": "+08:00", "action": "OBSERVE",
            "epcList": [PALLET], "bizStep": "receiving", "disposition": "in_progress",
            "readPoint": {"id": MO_STORE}, "bizLocation": {"id": MO_STORE}}


def unpack(serials: list[int], time: str = "2024-05-04T10:00:00+08:00") -> dict[str, Any]:
    return {"type": "AggregationEvent", "eventTime": time, "eventTimeZoneOffset": "+08:00", "action": "DELETE",
            "parentID": PALLET, "childEPCs": [bottle(s) for s in serials], "bizStep": "unpacking",
            "bizLocation": {"id": MO_STORE}}


def retract(event: dict[str, Any], reason: str = "incorrect_data") -> dict[str, Any]:
    return {**event, "errorDeclaration": {"declarationTime": "2024-05-05T00:00:00Z", "reason": reason}}


def _dl(urn: str) -> str:
    return gs1.epc_urn_to_digital_link(urn)


PALLET_DL = _dl(PALLET)  # https://id.gs1.org/00/<SSCC>
MO_STORE_DL = _dl(MO_STORE)
HK_WAREHOUSE_DL = _dl(HK_WAREHOUSE)
