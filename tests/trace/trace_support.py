"""The traceability tests' chain: a consortium across the three jurisdictions on an
identity-required chain (a Guangdong farm and juice maker, a Hong Kong logistics firm, a
Macao importer), driven block by block by the real Application."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "identity"))

from baychain.identity import Jurisdiction, Role, create_org_ca, create_root  # noqa: E402
from chain_support import Chain, Key, der, pem, user_cert  # noqa: E402
from identity_support import T0  # noqa: E402

FARM = "Conghua Orchard"  # GD
JUICER = "Guangzhou Juice Works"  # GD
LOGISTICS = "Harbour Logistics"  # HK
IMPORTER = "Macau Fresh Imports"  # MO
ORGS = [(FARM, Jurisdiction.GD), (JUICER, Jurisdiction.GD), (LOGISTICS, Jurisdiction.HK), (IMPORTER, Jurisdiction.MO)]


class TraceChain(Chain):
    """The chain plus one bound key per organisation, and helpers to capture and read."""

    def __init__(self, path, consortium) -> None:
        root, cas = consortium
        genesis = {"identity": {
            "root": pem(root.certificate),
            "organisations": [{"name": n, "ca": pem(cas[n].certificate)} for n, _ in ORGS],
            "required": True}}
        super().__init__(path, genesis)
        self.keys: dict[str, Key] = {}
        for name, _ in ORGS:
            key = Key()
            self.ok(key.tx("identity", "bind", cert=der(user_cert(cas[name].certificate, cas[name].private_key, key, name))))
            self.keys[name] = key

    def capture(self, org: str, document: Any):
        text = document if isinstance(document, str) else json.dumps(document)
        return self.run(self.keys[org].tx("trace", "capture", document=text))

    def captured(self, org: str, document: Any) -> list[str]:
        result = self.capture(org, document)
        assert result.code == 0, result
        return [r["hash"] for r in result_data(result)]

    def trace_view(self, method: str, **args):
        return self.app.view("trace", method, args)


def result_data(result):
    from baychain import encoding

    return encoding.decode(result.data) if isinstance(result.data, bytes) else result.data




def make_consortium():
    root = create_root("GBA Trace Root CA", now=T0)
    cas = {name: create_org_ca(root.certificate, root.private_key, name, j, Role.MEMBER, now=T0) for name, j in ORGS}
    return root, cas
