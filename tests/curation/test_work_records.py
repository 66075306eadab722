"""The work files hold one readable, typed record per source record, and read back as written."""

from __future__ import annotations

import json

from curation_helpers import make_cfg
from kill_helper import SMALL

from lingshu.curation.runner import curate
from lingshu.curation.work import WorkRecord
from lingshu.tasks.curate import make_curation


def test_work_records_have_named_fields_and_round_trip(tmp_path, tokenizer_dir):
    cur = make_curation(make_cfg(tmp_path, tokenizer_dir, sources=SMALL, num_partitions=2, workers=1,
                                 keep_work=True, output_dir=str(tmp_path / "out")))
    counts = curate(cur)["counts"]["demo"]
    lines = [json.loads(line) for p in range(2)
             for line in (cur.part_dir(p) / "demo" / "records.jsonl").read_text().splitlines()]
    assert len(lines) == counts["read"]
    assert {tuple(sorted(d)) for d in lines} == {("decision", "field", "file", "id", "order", "row", "signatures",
                                                  "staged")}
    corrupt = next(d for d in lines if d["id"] == "demo-planted-corrupt")
    assert corrupt["decision"]["op"] == "decode" and corrupt["decision"]["action"] == "quarantine"
    assert corrupt["staged"] is None and corrupt["signatures"] == {}
    kept = next(d for d in lines if d["decision"] is None)
    assert set(kept["staged"]) == {"partition", "shard", "offset", "length"}
    assert "phash_caption" in kept["signatures"] or "minhash_text" in kept["signatures"]
    assert all(WorkRecord.from_json(d).to_json() == d for d in lines)
    # the per-sample ops' decisions are the rejects that no dedup op overrode
    rejects = [json.loads(line) for line in (tmp_path / "out" / "demo" / "rejects.jsonl").read_text().splitlines()]
    decided = {d["id"]: d["decision"]["op"] for d in lines if d["decision"]}
    assert {r["id"]: r["op"] for r in rejects if r["id"] in decided} == decided
