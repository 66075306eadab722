"""`<raw_dir>/<entry>.manifest.json`, beside the entry's folder (never inside it, where readers glob
for data files): what was fetched, from where, at which commit, each file's size and sha256 and
whether that checksum came from the publisher or was recorded at download, and which archives
were unpacked. Written atomically after every file, so a kill loses at most the file in flight."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingshu.io import write_atomic


@dataclass
class Manifest:
    path: Path
    entry: str
    origin: dict[str, Any] = field(default_factory=dict)    # hub + revision + commit, or "urls"
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    extracted: dict[str, dict[str, Any]] = field(default_factory=dict)
    complete: bool = False
    spec: str | None = None                                 # hash of the catalogue entry it was made from

    @classmethod
    def load(cls, path: Path, entry: str) -> "Manifest":
        if not path.is_file():
            return cls(path, entry)
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(path, entry, data.get("origin", {}), data.get("files", {}), data.get("extracted", {}),
                   bool(data.get("complete")), data.get("spec"))

    def save(self) -> None:
        data = {"entry": self.entry, "origin": self.origin, "spec": self.spec, "complete": self.complete,
                "files": self.files, "extracted": self.extracted}
        write_atomic(self.path, json.dumps(data, indent=2, sort_keys=True))

    def has(self, rel: str, dest: Path) -> bool:
        """A file counts as there when the manifest recorded it and the file still has that size."""
        rec = self.files.get(rel)
        f = dest / rel
        return rec is not None and f.is_file() and f.stat().st_size == rec["size"]
