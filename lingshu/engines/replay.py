"""Engine that replays responses produced elsewhere, to score them with lingshu's rules.

Reads one or more JSONL files of `{"id": ..., "response": ...}` (lingshu's own predictions.jsonl
qualifies). Requests are matched by the item id the evaluation runner attaches to each request
(`request.id`), so the order of the file does not matter. An id must appear once: a second line
with the same id and another response is an error naming both lines (an identical repeat, as when
two copies of one run are read, is harmless and ignored).
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
        self.where: dict[str, str] = {}  # id -> file:line it was read from
        for p in map(Path, paths):
            files = sorted(p.rglob("predictions.jsonl")) if p.is_dir() else [p]
            if not p.exists() or not files:
                raise FileNotFoundError(f"replay engine: {p} has no predictions; set engine.path to a predictions.jsonl")
            for f in files:
                self._read(f)

    def _read(self, f: Path) -> None:
        with f.open("rb") as fh:
            for n, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                where = f"{f}:{n}"
                try:
                    rec = json.loads(raw)
                except ValueError as e:  # invalid UTF-8 or JSON
                    raise ValueError(f"replay engine: {where} is not valid JSON ({e})") from None
                if not isinstance(rec, dict) or "id" not in rec:
                    raise ValueError(f"replay engine: {where} is not an {{'id', 'response'}} record")
                response = rec.get("response")
                if response is not None and not isinstance(response, str):
                    raise ValueError(f"replay engine: {where}: response is a {type(response).__name__}, not text")
                rid, response = str(rec["id"]), response or ""
                if rid in self.responses and self.responses[rid] != response:
                    raise ValueError(f"replay engine: id {rid!r} at {where} was already read at {self.where[rid]} "
                                     f"with another response; keep one of them")
                self.responses.setdefault(rid, response)
                self.where.setdefault(rid, where)

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
