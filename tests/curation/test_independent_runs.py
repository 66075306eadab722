"""Two curation pipelines in one process share nothing: run interleaved, each writes what it writes alone."""

from __future__ import annotations

import json
from pathlib import Path

from curation_helpers import make_cfg
from kill_helper import SMALL

from lingshu.curation.runner import curate, merge, run_map
from lingshu.tasks.curate import make_curation

# Two chains over the same images: one decodes at reduced scale (its decodes feed the pHash op),
# the other decodes fully and keeps more small images; both ask about each image several times.
VARIANTS = {"a": {}, "b": {"ops.decode.draft_size": None, "ops.min_size.min_side": 48}}


def pipeline(root: Path, tokenizer_dir: Path, variant: str):
    return make_curation(make_cfg(root, tokenizer_dir, sources=SMALL, num_partitions=3, workers=1,
                                  output_dir=str(root / variant), **VARIANTS[variant]))


def outputs(out: Path) -> dict:
    m = json.loads((out / "demo" / "manifest.json").read_text())
    return {"counts": m["counts"], "rejects": (out / "demo" / "rejects.jsonl").read_bytes(),
            "shards": {s["name"]: (out / "demo" / s["name"]).read_bytes() for s in m["shards"]}}


def test_interleaved_pipelines_match_separate_runs(tmp_path, tokenizer_dir):
    alone = {}
    for v in VARIANTS:
        curate(pipeline(tmp_path / "alone", tokenizer_dir, v))
        alone[v] = outputs(tmp_path / "alone" / v)
    assert alone["a"]["counts"] != alone["b"]["counts"]  # the chains differ, so sharing would show

    both = {v: pipeline(tmp_path / "together", tokenizer_dir, v) for v in VARIANTS}
    for p in range(3):  # partition by partition, alternating pipelines
        for cur in both.values():
            assert run_map(cur, [p]) == 1
    for v, cur in both.items():
        merge(cur)
        assert outputs(tmp_path / "together" / v) == alone[v], v
