"""The cost of readable work records: the demo curation's work files in today's encoding (typed
records, named keys) against the previous one (one-letter keys, list-encoded verdicts), measured in
the same run over the very same records.

1. bytes: every line of `_work/*/records.jsonl` re-encoded both ways;
2. time: writing (record -> JSON line) and reading back (JSON line -> what the merge uses), both
   encodings alternated --repeats times (min), set against the whole curation's wall time.

    python perf/curation_records.py [--num-images 400] [--repeats 5] [--out perf/results/curation_records.json]
(with the package importable: `pip install -e .`, or PYTHONPATH=. from the repository root)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from lingshu.curation.runner import curate
from lingshu.curation.work import WorkRecord
from lingshu.io import dumps, write_json


def compose(run_dir: Path, num_images: int):
    import lingshu  # noqa: F401  (registers the config resolvers)
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    conf = Path(__file__).resolve().parents[1] / "conf"
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        return hydra_compose("config", overrides=[
            "task=curate", f"source.demo.num_images={num_images}", "curation.workers=1", "curation.keep_work=true",
            "curation.progress=false", f"paths.run_dir={run_dir}", f"paths.data_dir={run_dir}/data"])


def compact(r: WorkRecord, position: dict[str, int]) -> dict:
    """The previous encoding: ops by chain position, verdicts as lists, one-letter keys."""
    d = r.decision
    line = {"id": r.id, "o": list(r.order), "f": r.file, "r": r.row,
            "v": None if d is None else [position[d.op], d.action, d.reason, d.statistic],
            "s": {str(position[k]): v for k, v in r.signatures.items()}}
    if r.staged is not None:
        line["t"] = [r.staged.partition, r.staged.shard, r.staged.offset, r.staged.length]
    if r.field:
        line["field"] = r.field
    return line


def timed(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--num-images", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path("perf/results/curation_records.json"))
    args = ap.parse_args()
    from lingshu.tasks.curate import make_curation

    with tempfile.TemporaryDirectory() as tmp:
        cfg = compose(Path(tmp), args.num_images)
        cur = make_curation(cfg)
        t0 = time.perf_counter()
        curate(cur)
        curation_s = time.perf_counter() - t0
        files = sorted(cur.work_dir.glob("part-*/*/records.jsonl"))
        lines = [line for f in files for line in f.read_text().splitlines()]
    records = [WorkRecord.from_json(json.loads(line)) for line in lines]
    readable = [dumps(r.to_json()) for r in records]
    old = [dumps(compact(r, cur.position)) for r in records]
    assert readable == lines  # re-encoding gives the very bytes the run wrote
    write = {"readable": lambda: [dumps(r.to_json()) for r in records],
             "compact": lambda: [dumps(compact(r, cur.position)) for r in records]}
    read = {"readable": lambda: [WorkRecord.from_json(json.loads(s)) for s in readable],
            "compact": lambda: [json.loads(s) for s in old]}
    secs = {f"{step} {enc}": timed(fns[enc], args.repeats) for step, fns in (("write", write), ("read", read))
            for enc in ("compact", "readable")}
    size = {"readable": sum(len(s.encode()) + 1 for s in readable), "compact": sum(len(s.encode()) + 1 for s in old)}
    extra_s = secs["write readable"] + secs["read readable"] - secs["write compact"] - secs["read compact"]
    result = {"records": len(records), "curation_s": round(curation_s, 3),
              "bytes": size, "bytes_ratio": round(size["readable"] / size["compact"], 3),
              "seconds": {k: round(v, 4) for k, v in secs.items()},
              "extra_s_vs_curation": round(extra_s / curation_s, 4)}
    write_json(args.out, result)
    print(json.dumps(result, indent=2), f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
