"""Engine that replays responses produced elsewhere, to score them with lingshu's rules.

Reads one or more JSONL files of `{"id": ..., "response": ...}` (lingshu's own predictions.jsonl
qualifies). Requests are matched by the item id the evaluation runner attaches to each request
(`request.id`), so the order of the file does not matter.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from lingshu.engines.base import GenerationRequest


class ReplayEngine:
    def __init__(self, path: str | list[str], missing: str = "error", model_path: str | None = None):
        if missing not in ("error", "empty"):
            raise ValueError(f"replay engine: missing must be 'error' or 'empty', got {missing!r}")
        self.missing = missing
        paths = [path] if isinstance(path, (str, Path)) else list(path or [])
        if not paths:
            raise ValueError("replay engine needs engine.path=/path/to/predictions.jsonl")
        self.responses: dict[str, str] = {}
        for p in map(Path, paths):
            files = sorted(p.rglob("predictions.jsonl")) if p.is_dir() else [p]
            if not p.exists() or not files:
                raise FileNotFoundError(f"replay engine: {p} has no predictions; set engine.path to a predictions.jsonl")
            for f in files:
                self._read(f)

    def _read(self, f: Path) -> None:
        with f.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    self.responses[str(rec["id"])] = rec.get("response") or ""
                except (ValueError, KeyError) as e:
                    raise ValueError(f"replay engine: {f}:{n} is not a {{'id', 'response'}} record ({e})") from None

    def describe(self) -> dict:
        return {"engine": "replay", "responses": len(self.responses)}

    def generate(self, requests: Sequence[GenerationRequest]) -> list[str]:
        out = []
        for r in requests:
            rid = getattr(r, "id", None)
            if rid is None:
                raise ValueError("replay engine: request carries no item id (run it through lingshu.evaluation)")
            if rid not in self.responses and self.missing == "error":
                raise KeyError(f"replay engine: no response for id {rid!r} (engine.missing=empty scores it as empty)")
            out.append(self.responses.get(rid, ""))
        return out
