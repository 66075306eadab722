"""The curation work files: one `WorkRecord` per source record, a JSON line of `records.jsonl`.

The map step writes them and the merge step reads them back, so a record carries everything the
merge needs: its place in the global order, what the per-sample ops decided, the dedup ops'
signatures, where its tar bytes wait in staging, and its provenance for rejects.jsonl.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from lingshu.curation.ops import Verdict

# The `op` of decisions taken outside the chain: by the source reader, or by the shard writer.
SOURCE = "source"


@dataclass
class Decision:
    """Why a record leaves the chain, and which op (by name) took it out."""

    op: str
    action: str  # drop | quarantine
    reason: str
    statistic: Any = None

    @classmethod
    def of(cls, op: str, verdict: Verdict) -> Decision:
        return cls(op, verdict.action, verdict.reason, verdict.statistic)


@dataclass
class Staged:
    """Where a surviving sample's tar bytes wait: partition, staging shard, byte span."""

    partition: int
    shard: str
    offset: int
    length: int


@dataclass
class WorkRecord:
    id: str
    order: tuple[int, int]  # (row in the source, sub-record): the global order, the same for any partitioning
    file: str | None = None
    row: Any = None
    field: str | None = None  # the field a reader quarantined the record over
    decision: Decision | None = None  # None: every per-sample op kept it
    signatures: dict[str, Any] = dataclasses.field(default_factory=dict)  # dedup op name -> its signature
    staged: Staged | None = None

    def to_json(self) -> dict:
        return {"id": self.id, "order": list(self.order), "file": self.file, "row": self.row, "field": self.field,
                "decision": None if self.decision is None else vars(self.decision),
                "signatures": self.signatures, "staged": None if self.staged is None else vars(self.staged)}

    @classmethod
    def from_json(cls, d: dict) -> WorkRecord:
        decision, staged = d["decision"], d["staged"]
        return cls(d["id"], tuple(d["order"]), d["file"], d["row"], d["field"],
                   None if decision is None else Decision(**decision), d["signatures"],
                   None if staged is None else Staged(**staged))
