"""The demo's farm-to-table cold chain as GS1 EPCIS 2.0 JSON-LD documents.

Lychees are harvested at an orchard in Conghua (Guangdong) and pressed into a lot of
lychee juice at the core enterprise's Guangzhou plant; the bottles of that lot are
commissioned and packed onto a pallet (an SSCC) that leaves for Hong Kong. The Hong
Kong logistics firm receives it at Kwai Chung and ships it to Macao under cold chain
(temperature readings in °C and °F); the Macao importer receives and unpacks it at
its store. Each party captures its own events. Event times are the days before the
demo's first block, so the story reads as last week's shipment.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from baychain.trace import gs1

CST = timezone(timedelta(hours=8))
CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"cbvmda": "urn:epcglobal:cbv:mda:"}]
GD_PREFIX, HK_PREFIX, MO_PREFIX = "6901234", "4890001", "9580001"  # GS1 company prefixes (China, Hong Kong, Macao)
LYCHEES = "000011"  # item references
JUICE = "000012"
ORCHARD = f"urn:epc:id:sgln:{GD_PREFIX}.00001.0"
PLANT = f"urn:epc:id:sgln:{GD_PREFIX}.00002.0"
KWAI_CHUNG = f"urn:epc:id:sgln:{HK_PREFIX}.00010.0"
MACAO_STORE = f"urn:epc:id:sgln:{MO_PREFIX}.00020.0"
PALLET = f"urn:epc:id:sscc:{GD_PREFIX}.0000004242"
BOTTLES = range(1001, 1007)


def gtin(item: str) -> str:
    """The GTIN-14 of one of the plant's items (indicator digit first, check digit last)."""
    body = item[0] + GD_PREFIX + item[1:]
    return body + gs1.check_digit(body)


def lgtin(item: str, lot: str) -> str:
    return f"urn:epc:class:lgtin:{GD_PREFIX}.{item}.{lot}"


def bottle(serial: int) -> str:
    return f"urn:epc:id:sgtin:{GD_PREFIX}.{JUICE}.{serial}"


def document(*events: dict[str, Any]) -> dict[str, Any]:
    return {"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": events[0]["eventTime"], "epcisBody": {"eventList": list(events)}}


class ColdChain:
    """The events of one shipment: lots named after the demo's start, times in the week before it."""

    def __init__(self, start_ns: int) -> None:
        self.day0 = datetime.fromtimestamp(start_ns // 10**9, CST).replace(hour=0, minute=0, second=0) - timedelta(days=7)
        stamp = self.day0.strftime("%y%m%d")
        self.lychee_lot, self.juice_lot = f"LC-{stamp}", f"LJ-{stamp}"

    def at(self, day: int, hour: int, minute: int = 0) -> str:
        return (self.day0 + timedelta(days=day, hours=hour, minutes=minute)).isoformat()

    def _event(self, kind: str, day: int, hour: int, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "eventTime": self.at(day, hour), "eventTimeZoneOffset": "+08:00", **fields}

    def guangdong(self) -> dict[str, Any]:
        """The core enterprise: harvest, pressing, bottling, packing and departure (GD)."""
        return document(
            self._event("ObjectEvent", 0, 6, action="ADD", bizStep="commissioning", disposition="active",
                        quantityList=[{"epcClass": lgtin(LYCHEES, self.lychee_lot), "quantity": 800, "uom": "KGM"}],
                        readPoint={"id": ORCHARD}, bizLocation={"id": ORCHARD}),
            self._event("TransformationEvent", 1, 9, bizStep="commissioning",
                        inputQuantityList=[{"epcClass": lgtin(LYCHEES, self.lychee_lot), "quantity": 800, "uom": "KGM"}],
                        outputQuantityList=[{"epcClass": lgtin(JUICE, self.juice_lot), "quantity": 480, "uom": "LTR"}],
                        readPoint={"id": PLANT}, bizLocation={"id": PLANT}),
            self._event("ObjectEvent", 1, 11, action="ADD", bizStep="commissioning", disposition="active",
                        epcList=[bottle(s) for s in BOTTLES], bizLocation={"id": PLANT},
                        ilmd={"cbvmda:lotNumber": self.juice_lot}),
            self._event("AggregationEvent", 1, 12, action="ADD", bizStep="packing", parentID=PALLET,
                        childEPCs=[bottle(s) for s in BOTTLES], bizLocation={"id": PLANT}),
            self._event("ObjectEvent", 2, 7, action="OBSERVE", bizStep="departing", disposition="in_transit",
                        epcList=[PALLET], readPoint={"id": PLANT}),
        )

    def hong_kong(self) -> dict[str, Any]:
        """The logistics firm: arrival at Kwai Chung, then the cold-chain leg to Macao (HK)."""
        readings = [(self.at(3, 8), 4.2, "CEL"), (self.at(3, 10), 39.9, "FAH"), (self.at(3, 12), 5.1, "CEL")]
        return document(
            self._event("ObjectEvent", 2, 15, action="OBSERVE", bizStep="receiving", disposition="in_progress",
                        epcList=[PALLET], readPoint={"id": KWAI_CHUNG}, bizLocation={"id": KWAI_CHUNG}),
            self._event("ObjectEvent", 3, 8, action="OBSERVE", bizStep="shipping", disposition="in_transit",
                        epcList=[PALLET], readPoint={"id": KWAI_CHUNG},
                        sensorElementList=[{"sensorMetadata": {"time": t},
                                            "sensorReport": [{"type": "Temperature", "value": v, "uom": u}]}
                                           for t, v, u in readings]),
        )

    def macao(self) -> dict[str, Any]:
        """The importer: receipt and unpacking at its store (MO)."""
        return document(
            self._event("ObjectEvent", 3, 16, action="OBSERVE", bizStep="receiving", disposition="in_progress",
                        epcList=[PALLET], readPoint={"id": MACAO_STORE}, bizLocation={"id": MACAO_STORE}),
            self._event("AggregationEvent", 3, 17, action="DELETE", bizStep="unpacking", parentID=PALLET,
                        childEPCs=[bottle(s) for s in BOTTLES], bizLocation={"id": MACAO_STORE}),
            self._event("ObjectEvent", 4, 9, action="OBSERVE", bizStep="retail_selling", disposition="retail_sold",
                        epcList=[bottle(BOTTLES[0])], bizLocation={"id": MACAO_STORE}),
        )

    def recall(self) -> dict[str, Any]:
        """The core enterprise recalls the juice lot (a failed quality test of its lychee lot)."""
        return document(
            self._event("ObjectEvent", 6, 10, action="OBSERVE", bizStep="holding", disposition="recalled",
                        quantityList=[{"epcClass": lgtin(JUICE, self.juice_lot), "quantity": 480, "uom": "LTR"}],
                        bizLocation={"id": PLANT}),
        )
