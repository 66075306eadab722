"""Writing synthesized samples next to curated shards, with their rejects and counts."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Iterable, Mapping

from lingshu.data.shards import ShardWriter, iter_tar, list_shards
from lingshu.io import atomic_open, write_atomic
from lingshu.schema import Sample
from lingshu.synthesis.base import Synthesizer, apply
from lingshu.synthesis.records import Reject


def write_synthesized(synthesizers: Mapping[str, Synthesizer], samples: Iterable[Sample], out_dir: str | Path,
                      prefix: str = "synth", max_count: int = 1000, chunk_size: int = 256) -> dict:
    """Synthesize from `samples` into `out_dir/<prefix>-*.tar`; rejects go to `<prefix>_rejects.jsonl`.

    Returns `{"shards": [...], "counts": {...}}` for the caller's manifest: shard entries in
    ShardWriter's format, and per synthesizer the samples made and the rejects by reason. A rerun
    rewrites the files (model replies come from the synthesizers' caches, so it sends no request).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in [*out.glob(f"{prefix}-*.tar"), *out.glob(f"{prefix}-*.tar.tmp")]:
        stale.unlink()
    made: Counter = Counter()
    rejected: dict[str, Counter] = {name: Counter() for name in synthesizers}
    with ShardWriter(out, prefix=prefix, max_count=max_count) as writer, atomic_open(out / f"{prefix}_rejects.jsonl") as rj:
        for item in apply(synthesizers, samples, keep_inputs=False, chunk_size=chunk_size):
            if isinstance(item, Reject):
                rejected[item.op][item.reason.split(":")[0]] += 1
                rj.write(json.dumps(item.to_json(), ensure_ascii=False) + "\n")
            else:
                made[item.meta["synthesis"]] += 1
                writer.write(item)
        shards = writer.close()
    counts = {name: {"synthesized": made[name], "rejected": dict(rejected[name]),
                     "stats": dict(syn.stats)} for name, syn in synthesizers.items()}
    return {"shards": shards, "counts": counts}


def synthesize_shard_dir(synthesizers: Mapping[str, Synthesizer], shard_dir: str | Path, prefix: str = "synth",
                         max_count: int = 1000) -> dict:
    """Synthesize from a curated shard directory into the same directory and list the new shards in
    its `manifest.json` (`counts.synthesis` holds the per-synthesizer counts; read = kept + dropped +
    quarantined still balances, synthesized samples are counted apart). Rerunnable: earlier
    synthesized shards are never read as inputs and are replaced."""
    shard_dir = Path(shard_dir)
    manifest_path = shard_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    inputs = [p for p in list_shards(shard_dir) if not p.name.startswith(f"{prefix}-")]
    result = write_synthesized(synthesizers, (s for p in inputs for s in iter_tar(p)), shard_dir, prefix, max_count)
    manifest["shards"] = [s for s in manifest["shards"] if not s["name"].startswith(f"{prefix}-")] + result["shards"]
    manifest["counts"]["synthesis"] = result["counts"]
    write_atomic(manifest_path, json.dumps(manifest, indent=2, sort_keys=True))
    return result
