"""Traceability after GS1 EPCIS 2.0, CBV 2.0 and GS1 Digital Link: the pure parts.

`gs1` (keys and check digits, EPC URNs), `digital_link` (Digital Link URIs),
`vocabulary` (CBV terms), `epcis` (JSON-LD events parsed, validated, normalised),
`event_hash` (the CBV 2.0 event hash ID), `units` (exact unit conversion), `records`
(the trace contract's storage layout and reads) and `graph` (trace and recall). The
contract itself is `baychain.contracts.gba.trace`; the consumer verification that
proves a product's history is `baychain.trace.proofs`.
"""
