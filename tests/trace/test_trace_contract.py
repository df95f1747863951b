"""The trace contract on an identity-required chain shared by a Guangdong farm and juice
works, a Hong Kong logistics firm and a Macao importer: capture, the never-edit rule,
error declarations, queries, trace, recall and sensor readings."""

from __future__ import annotations

import copy

import pytest

import trace_documents as D
from baychain.errors import Code
from baychain.trace import epcis, event_hash
from trace_support import FARM, IMPORTER, JUICER, LOGISTICS, result_data

BOTTLES = [1, 2, 3]
READINGS = [("2024-05-03T09:00:00+08:00", 39.2, "FAH"), ("2024-05-03T10:00:00+08:00", 5.5, "CEL")]


def supply_chain(chain) -> dict[str, str]:
    """Capture the whole cold chain, each step by the organisation that did it."""
    hashes = {}
    hashes["harvest"], = chain.captured(FARM, D.document(D.harvest()))
    hashes["press"], hashes["bottle"], hashes["pack"] = chain.captured(
        JUICER, D.document(D.press(), D.bottle_up(BOTTLES), D.pack(BOTTLES)))
    hashes["ship"], = chain.captured(LOGISTICS, D.document(D.ship(READINGS)))
    hashes["receive"], = chain.captured(IMPORTER, D.document(D.receive()))
    return hashes


def test_captured_event_is_stored_under_its_cbv_hash_with_its_recorder(chain):
    (ni,) = chain.captured(FARM, D.document(D.harvest()))
    (expected,) = [event_hash.event_hash(e) for e in epcis.parse_document(__import__("json").dumps(D.document(D.harvest())))]
    assert ni == expected and ni.startswith("ni:///sha-256;") and ni.endswith("?ver=CBV2.0")
    record = chain.trace_view("event", hash=ni)
    assert (record["organisation"], record["jurisdiction"], record["retracted"]) == (FARM, "GD", False)
    assert record["event"]["quantityList"][0]["epcClass"] == f"https://id.gs1.org/01/{D.gtin(D.ORANGES)}/10/{D.ORANGE_LOT}"
    assert record["event"]["quantityList"][0]["quantity"] == "500"
    assert record["recordTime"] == chain.time  # the ledger sets recordTime: the block time


def test_the_same_event_cannot_be_captured_twice_even_with_lists_reordered(chain):
    chain.captured(JUICER, D.document(D.bottle_up([1, 2, 3])))
    result = chain.capture(LOGISTICS, D.document(D.bottle_up([3, 1, 2])))
    assert result.code == Code.EVENT_EXISTS and "never edited" in result.log


def test_an_event_is_never_edited_a_changed_event_is_another_event(chain):
    (first,) = chain.captured(FARM, D.document(D.harvest(quantity=500)))
    (second,) = chain.captured(FARM, D.document(D.harvest(quantity=501)))
    assert first != second
    assert chain.trace_view("event", hash=first)["event"]["quantityList"][0]["quantity"] == "500"
    assert "edit" not in chain.app.contracts["trace"].methods and set(chain.app.contracts["trace"].methods) >= {"capture"}
    writes = [m for m in chain.app.contracts["trace"].methods.values() if not m.is_view]
    assert [m.name for m in writes] == ["capture"]


def test_error_declaration_retracts_and_only_the_recorder_may_declare(chain):
    (ni,) = chain.captured(FARM, D.document(D.harvest()))
    refused = chain.capture(LOGISTICS, D.document(D.retract(D.harvest())))
    assert refused.code == Code.PERMISSION_DENIED and FARM in refused.log
    assert chain.trace_view("event", hash=ni)["retracted"] is False
    (same,) = chain.captured(FARM, D.document(D.retract(D.harvest())))
    assert same == ni  # the declaration carries the event, so it names it by the same hash
    record = chain.trace_view("event", hash=ni)
    assert record["retracted"] is True and record["retraction"]["reason"] == "https://ref.gs1.org/cbv/ER-incorrect_data"
    assert record["event"]["quantityList"][0]["quantity"] == "500"  # kept as it was: retracted, not edited
    assert chain.capture(FARM, D.document(D.retract(D.harvest()))).code == Code.EVENT_RETRACTED
    lot = chain.trace_view("events", epc=D.lgtin(D.ORANGES, D.ORANGE_LOT))
    assert lot["total"] == 0
    assert chain.trace_view("events", epc=D.lgtin(D.ORANGES, D.ORANGE_LOT), include_retracted=True)["total"] == 1


def test_error_declaration_for_an_event_never_captured_is_refused(chain):
    result = chain.capture(FARM, D.document(D.retract(D.harvest())))
    assert result.code == Code.EVENT_UNKNOWN


@pytest.mark.parametrize("mutate, code, words", [
    (lambda e: e.update(quantityList=[{"epcClass": "https://example.com/01/06901234000012/10/L1", "quantity": 1}]),
     Code.GS1_CHECK_DIGIT, "check digit"),
    (lambda e: e.update(epcList=["https://id.gs1.org/00/069012340000000010"]), Code.GS1_CHECK_DIGIT, "SSCC"),
    (lambda e: e.pop("action"), Code.EPCIS_INVALID, "needs an action"),
    (lambda e: e.pop("eventTimeZoneOffset"), Code.EPCIS_INVALID, "eventTimeZoneOffset"),
    (lambda e: e.pop("eventTime"), Code.EPCIS_INVALID, "eventTime"),
    (lambda e: e.update(eventTime="2024-05-01 06:00"), Code.EPCIS_INVALID, "timestamp"),
    (lambda e: e.update(bizStep="harvestng"), Code.EPCIS_INVALID, "not a CBV bizStep"),
    (lambda e: e.update(epcList=["urn:epc:id:sgtin:690123.000001.1"]), Code.GS1_KEY_INVALID, "13 digits"),
    (lambda e: e.update(quantityList=[{"epcClass": "urn:epc:class:lgtin:6901234.000001.L", "quantity": "5"}]),
     Code.EPCIS_INVALID, "JSON number"),
    (lambda e: e.update(colour="orange"), Code.EPCIS_INVALID, "namespace prefix"),
    (lambda e: e.update(type="SensorEvent"), Code.EPCIS_INVALID, "event type"),
])
def test_malformed_object_events_are_refused_with_a_stable_code(chain, mutate, code, words):
    event = D.harvest()
    mutate(event)
    result = chain.capture(FARM, D.document(event))
    assert result.code == code and words in result.log, result.log
    assert chain.app.view("trace", "events", {"from_time": "2024-01-01T00:00:00Z", "to_time": "2024-12-31T00:00:00Z"})["total"] == 0


@pytest.mark.parametrize("event, words", [
    ({"type": "AggregationEvent", "action": "ADD", "childEPCs": [D.bottle(1)]}, "needs a parentID"),
    ({"type": "AggregationEvent", "action": "DELETE", "childEPCs": [D.bottle(1)]}, "needs a parentID"),
    ({"type": "AggregationEvent", "action": "ADD", "parentID": D.PALLET}, "needs childEPCs"),
    ({"type": "AssociationEvent", "action": "OBSERVE", "parentID": D.PALLET}, "needs childEPCs"),
    ({"type": "AssociationEvent", "action": "ADD", "childEPCs": [D.bottle(1)]}, "needs a parentID"),
    ({"type": "TransformationEvent", "action": "ADD", "inputEPCList": [D.bottle(1)], "outputEPCList": [D.bottle(2)]},
     "no action"),
    ({"type": "TransformationEvent", "inputEPCList": [D.bottle(1)]}, "one input and one output"),
    ({"type": "TransactionEvent", "action": "ADD", "epcList": [D.bottle(1)]}, "bizTransactionList"),
    ({"type": "ObjectEvent", "action": "OBSERVE", "epcList": [D.bottle(1)],
      "sensorElementList": [{"sensorMetadata": {"time": "2024-05-01T00:00:00Z"}}]}, "at least one"),
    ({"type": "ObjectEvent", "action": "OBSERVE", "epcList": [D.bottle(1)], "parentID": D.PALLET}, "no field parentID"),
])
def test_structural_rules_per_event_type_are_enforced(chain, event, words):
    event = {"eventTime": "2024-05-01T00:00:00Z", "eventTimeZoneOffset": "+00:00", **event}
    result = chain.capture(JUICER, D.document(event))
    assert result.code == Code.EPCIS_INVALID and words in result.log, result.log


def test_one_bad_event_refuses_the_whole_document(chain):
    bad = D.pack(BOTTLES)
    del bad["parentID"]
    result = chain.capture(JUICER, D.document(D.press(), bad))
    assert result.code == Code.EPCIS_INVALID and result.log.startswith("event 1:")
    assert chain.trace_view("events", epc=D.lgtin(D.JUICE, D.JUICE_LOT))["total"] == 0


def test_queries_by_epc_lot_business_step_and_time(chain):
    hashes = supply_chain(chain)
    pallet = chain.trace_view("events", epc=D.PALLET)
    assert [r["hash"] for r in pallet["events"]] == [hashes["pack"], hashes["ship"], hashes["receive"]]
    # the same pallet named by its Digital Link on another resolver
    sscc = D.PALLET_DL.rsplit("/", 1)[1]
    assert sscc == "069012340000000016"
    assert chain.trace_view("events", epc=f"https://qr.example.mo/00/{sscc}")["total"] == 3
    lot = chain.trace_view("history", gtin=D.gtin(D.JUICE), lot=D.JUICE_LOT)
    assert [r["hash"] for r in lot["events"]] == [hashes["press"], hashes["bottle"]]
    assert [r["hash"] for r in chain.trace_view("events", biz_step="shipping")["events"]] == [hashes["ship"]]
    steps = chain.trace_view("events", biz_step="commissioning", from_time="2024-05-02T00:00:00+08:00",
                             to_time="2024-05-03T00:00:00+08:00")
    assert [r["hash"] for r in steps["events"]] == [hashes["press"], hashes["bottle"]]
    window = chain.trace_view("events", from_time="2024-05-03T00:00:00Z", to_time="2024-05-05T00:00:00Z")
    assert [r["hash"] for r in window["events"]] == [hashes["ship"], hashes["receive"]]


def test_trace_forward_and_backward_through_transformation_lot_and_aggregation(chain):
    supply_chain(chain)
    orange_lot = D.lgtin(D.ORANGES, D.ORANGE_LOT)
    forward = chain.trace_view("trace", epc=orange_lot)
    ids = {n["id"]: n for n in forward["nodes"]}
    juice_lot = f"https://id.gs1.org/01/{D.gtin(D.JUICE)}/10/{D.JUICE_LOT}"
    bottles = [f"https://id.gs1.org/01/{D.gtin(D.JUICE)}/21/{s}" for s in BOTTLES]
    pallet = D.PALLET_DL
    assert set(ids) == {f"https://id.gs1.org/01/{D.gtin(D.ORANGES)}/10/{D.ORANGE_LOT}", juice_lot, pallet, *bottles}
    assert (ids[juice_lot]["kind"], ids[bottles[0]]["kind"], ids[pallet]["kind"]) == ("transformation", "lot", "aggregation")
    backward = chain.trace_view("trace", epc=D.bottle(2), direction="backward")
    assert [n["id"] for n in backward["nodes"]] == [bottles[1], juice_lot, f"https://id.gs1.org/01/{D.gtin(D.ORANGES)}/10/{D.ORANGE_LOT}"]


def test_recall_lists_every_downstream_item_with_its_last_location(chain):
    supply_chain(chain)
    recall = chain.trace_view("recall", gtin=D.gtin(D.ORANGES), lot=D.ORANGE_LOT)
    seen = {i["id"]: i["last_seen"] for i in recall["items"]}
    mo_store = D.MO_STORE_DL
    bottles = [f"https://id.gs1.org/01/{D.gtin(D.JUICE)}/21/{s}" for s in BOTTLES]
    assert all(b in seen for b in bottles) and len(recall["items"]) == 6 and recall["recalled"] is False
    for b in bottles:  # on the pallet that the Macao importer received
        assert seen[b]["location"] == mo_store and seen[b]["via_container"] == D.PALLET_DL
    # unpacked at the store: a bottle is then where it was last seen itself
    chain.captured(IMPORTER, D.document(D.unpack([1])))
    chain.captured(LOGISTICS, D.document(D.ship([], time="2024-05-06T08:00:00+08:00") | {"sensorElementList": []}))
    seen = {i["id"]: i["last_seen"] for i in chain.trace_view("recall", gtin=D.gtin(D.ORANGES), lot=D.ORANGE_LOT)["items"]}
    assert seen[bottles[0]]["location"] == mo_store and seen[bottles[0]]["containers"] == []
    assert seen[bottles[1]]["location"] == D.HK_WAREHOUSE_DL  # still on the re-shipped pallet


def test_recall_declared_by_disposition_recalled_and_retracted_links_drop_out(chain):
    supply_chain(chain)
    recall_event = D.harvest(time="2024-05-07T00:00:00+08:00") | {"action": "OBSERVE", "bizStep": "holding",
                                                                   "disposition": "recalled"}
    chain.captured(FARM, D.document(recall_event))
    assert chain.trace_view("recall", gtin=D.gtin(D.ORANGES), lot=D.ORANGE_LOT)["recalled"] is True
    chain.captured(JUICER, D.document(D.retract(D.press())))  # the pressing never happened
    items = chain.trace_view("recall", gtin=D.gtin(D.ORANGES), lot=D.ORANGE_LOT)["items"]
    assert [i["id"] for i in items] == [f"https://id.gs1.org/01/{D.gtin(D.ORANGES)}/10/{D.ORANGE_LOT}"]


def test_sensor_readings_are_converted_exactly(chain):
    supply_chain(chain)
    readings = chain.trace_view("sensor", epc=D.PALLET, unit="CEL")["readings"]
    assert [(r["value"], r["uom"], r["converted"]) for r in readings] == [("39.2", "FAH", "4"), ("5.5", "CEL", "5.5")]
    kelvin = chain.trace_view("sensor", epc=D.PALLET, unit="KEL")["readings"]
    assert [r["converted"] for r in kelvin] == ["277.15", "278.65"]
    fahrenheit = chain.trace_view("sensor", epc=D.PALLET, unit="FAH", places=3)["readings"]
    assert [r["converted"] for r in fahrenheit] == ["39.2", "41.9"]
    with pytest.raises(Exception) as exc:
        chain.trace_view("sensor", epc=D.PALLET, unit="KGM")
    assert exc.value.code == Code.UNIT_UNKNOWN


def test_capture_result_and_events_carry_organisation_and_jurisdiction(chain):
    result = chain.capture(LOGISTICS, D.document(D.ship(READINGS)))
    assert result.code == 0
    (event,) = [e for e in result.events if e.type == "trace.captured"]
    attrs = dict(event.attributes)
    assert (attrs["organisation"], attrs["jurisdiction"], attrs["bizStep"]) == (LOGISTICS, "HK", "shipping")
    assert result_data(result)[0]["hash"] == attrs["hash"]
