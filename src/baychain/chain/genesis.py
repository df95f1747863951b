"""Genesis: the chain's identity and initial state, as a JSON file every node shares."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Genesis:
    chain_id: str
    time_ns: int
    app_state: dict[str, Any] = field(default_factory=dict)

    def app_state_bytes(self) -> bytes:
        """Canonical JSON (sorted keys, no spaces) so every node hashes the same bytes."""
        return json.dumps(self.app_state, sort_keys=True, separators=(",", ":")).encode()

    def save(self, path: Path) -> None:
        """Write atomically (temp file, fsync, rename): a crash never leaves half a genesis."""
        data = {"chain_id": self.chain_id, "time_ns": self.time_ns, "app_state": self.app_state}
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            f.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> "Genesis":
        data = json.loads(path.read_text())
        return cls(chain_id=data["chain_id"], time_ns=int(data["time_ns"]), app_state=data.get("app_state", {}))


def merge_app_state(path: Path, sections: dict[str, Any]) -> None:
    """Set `sections` (e.g. {"identity": {...}}) in the `app_state` of a genesis file —
    baychain's or CometBFT's, which share that field — atomically, keeping the rest.
    ValueError if the file is not a JSON object."""
    try:
        doc = json.loads(Path(path).read_text())
    except ValueError as exc:
        raise ValueError(f"{path} is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path} is not a genesis document")
    doc["app_state"] = {**(doc.get("app_state") or {}), **sections}
    tmp = Path(path).with_suffix(Path(path).suffix + ".tmp")
    with open(tmp, "w") as f:
        f.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
