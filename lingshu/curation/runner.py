"""The curation runner: a map step per partition, then one merge step.

map (partition p of N, any machine): every source's rows with index % N == p go through the chain.
  Per-sample ops decide at once; dedup ops only compute signatures. Survivors go to staging tars,
  and one line per record (order, verdict, signatures, provenance, where its tar bytes are) goes
  to `records.jsonl`. A `DONE` marker, written last, makes the partition skippable on rerun; an
  unmarked partition is redone from scratch, so a kill at any moment loses only that partition.
merge (needs every partition): streams the records in a fixed global order, runs each dedup op in
  chain order over the signatures alone, then copies kept samples' tar bytes from staging into
  final shards (nothing is decoded), writes `rejects.jsonl`, and `manifest.json` last.
Intermediate files live under `_work/<config hash>/`, so files from another config are never reused.
The order never depends on N or on worker timing, so the output is identical for any partitioning.
"""

from __future__ import annotations

import heapq
import json
import multiprocessing as mp
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from lingshu import io
from lingshu.curation.ops import Op
from lingshu.io import atomic_open, dumps, read_jsonl, write_atomic
from lingshu.data.shards import ShardWriter, shard_key
from lingshu.data.sources.base import Quarantine, Source

FORMAT_VERSION = 3  # bump when the meaning of work files changes (3: structured questions stored bare)
# Two samples of one source whose ids are equal, or equal once made shard keys (`a.b`, `a_b`), cannot
# both live in the shards: the first in the global order is kept, later ones are dropped with this reason.
DUPLICATE_ID = "duplicate_id"
# A file name that is not UTF-8 reaches provenance as surrogates; in a JSON string they are written
# as `\udcXX` escapes, which read back as the same surrogates.
JSON_SURROGATES = "backslashreplace"


@dataclass
class Curation:
    sources: dict[str, Source]
    ops: list[Op]
    out_dir: Path
    config_hash: str
    num_partitions: int = 1
    workers: int = 1
    shard_max_count: int = 1000
    shard_max_bytes: int = 1 << 30
    keep_work: bool = False
    progress: Any = None  # callable(n) advancing a progress display, or None

    @property
    def work_dir(self) -> Path:
        return self.out_dir / "_work" / self.config_hash[:16]

    def part_dir(self, p: int) -> Path:
        return self.work_dir / f"part-{p:05d}-of-{self.num_partitions:05d}"

    def op_name(self, k: int) -> str:
        return "source" if k < 0 else self.ops[k].name


# -- map -------------------------------------------------------------------------------------------------
def process(ops: list[Op], rec: Any) -> tuple[dict, Any]:
    """One record through the chain: its work-file line, and the Sample when it survives."""
    if isinstance(rec, Quarantine):
        return {"id": rec.id, "v": [-1, "quarantine", rec.reason, None], "f": rec.file, "r": rec.row,
                "field": rec.field}, None
    sample, ctx, sigs, verdict = rec, {}, {}, None
    for k, op in enumerate(ops):
        if not op.applies(sample):
            continue
        try:
            if op.dedup:
                sig = op.signature(sample, ctx)
                if sig is not None:
                    sigs[str(k)] = sig
            else:
                v = op(sample, ctx)
                if v is not None:
                    verdict = [k, v.action, v.reason, v.statistic]
                    break
        except Exception as e:  # an op failing on one sample quarantines it, with the error
            verdict = [k, "quarantine", f"{type(e).__name__}: {e}", None]
            break
    line = {"id": sample.id, "v": verdict, "s": sigs, "f": sample.meta.get("file"), "r": sample.meta.get("row")}
    return line, (sample if verdict is None else None)


def map_partition(cur: Curation, p: int) -> bool:
    """Run partition p unless it is already marked done; True when it ran."""
    d = cur.part_dir(p)
    if (d / "DONE").exists():
        return False
    shutil.rmtree(d, ignore_errors=True)  # a partial partition from a killed run
    pending = 0
    for name, src in cur.sources.items():
        sd = d / name
        sd.mkdir(parents=True)
        with ShardWriter(sd, prefix="staging", max_count=cur.shard_max_count, max_bytes=cur.shard_max_bytes) as w, \
                open(sd / "records.jsonl", "w", encoding="utf-8", errors=JSON_SURROGATES) as f:
            for index, sub, rec in src.records(p, cur.num_partitions):
                line, sample = process(cur.ops, rec)
                line["o"] = [index, sub]
                if sample is not None:
                    try:
                        line["t"] = [p, *w.write(sample)]  # partition, staging shard, offset, length
                    except (UnicodeEncodeError, TypeError, ValueError) as e:  # e.g. a file name that is not UTF-8
                        line["v"] = [-1, "quarantine", f"cannot be written to a shard: {type(e).__name__}: {e}", None]
                f.write(dumps(line) + "\n")
                pending += 1
                if cur.progress and pending >= 32:
                    cur.progress(pending)
                    pending = 0
            f.flush()
            os.fsync(f.fileno())
    if cur.progress and pending:
        cur.progress(pending)
    write_atomic(d / "DONE", dumps({"config_hash": cur.config_hash, "partition": p}))
    return True


_WORKER: dict[str, Any] = {}


def _map_in_worker(p: int) -> bool:
    cur, counter = _WORKER["cur"], _WORKER["counter"]

    def advance(n: int) -> None:
        with counter.get_lock():
            counter.value += n

    cur.progress = advance
    return map_partition(cur, p)


def run_map(cur: Curation, partitions: list[int]) -> int:
    """Map the given partitions that are not done yet, over `workers` processes; returns how many ran."""
    todo = [p for p in partitions if not (cur.part_dir(p) / "DONE").exists()]
    for op in cur.ops:
        op.setup()  # before forking, so workers share it
    if cur.workers <= 1 or len(todo) <= 1:
        return sum(map_partition(cur, p) for p in todo)
    ctx = mp.get_context("fork")  # workers inherit sources and ops (tokenizer, benchmark index)
    counter = ctx.Value("q", 0)
    progress, cur.progress = cur.progress, None
    _WORKER.update(cur=cur, counter=counter)
    seen = 0
    with ctx.Pool(min(cur.workers, len(todo))) as pool:
        result = pool.map_async(_map_in_worker, todo, chunksize=1)
        while not result.ready():
            result.wait(0.2)
            if progress and counter.value > seen:
                progress(counter.value - seen)
                seen = counter.value
        ran = sum(result.get())
    cur.progress = progress
    return ran


# -- merge -----------------------------------------------------------------------------------------------
def records(cur: Curation, name: str) -> Iterator[dict]:
    """A source's work-file lines from every partition, in global (row, sub) order."""
    streams = [read_jsonl(cur.part_dir(p) / name / "records.jsonl") for p in range(cur.num_partitions)]
    return heapq.merge(*streams, key=lambda r: r["o"])


class StagedReader:
    """Reads a staged sample's tar bytes back; each partition's shards are read in order, so one
    open file per partition is enough."""

    def __init__(self, cur: Curation, name: str):
        self.cur, self.name, self.open = cur, name, {}

    def span(self, where: list) -> bytes:
        p, shard, offset, length = where
        current = self.open.get(p)
        if current is None or current[0] != shard:
            if current is not None:
                current[1].close()
            current = self.open[p] = (shard, open(self.cur.part_dir(p) / self.name / shard, "rb"))
        return os.pread(current[1].fileno(), length, offset)

    def close(self) -> None:
        for _, f in self.open.values():
            f.close()


def source_order(cur: Curation, keep: str) -> list[str]:
    names = list(cur.sources)
    if keep == "priority":  # stable sort: equal priorities keep config order
        names.sort(key=lambda n: -cur.sources[n].priority)
    return names


def dedup_pass(cur: Curation) -> dict[tuple, list]:
    """Run the dedup ops in chain order over signatures; returns {(source, row, sub): verdict}."""
    removed: dict[tuple, list] = {}
    for k, op in enumerate(cur.ops):
        if not op.dedup:
            continue
        index = op.new_index()
        for name in source_order(cur, op.keep):
            for r in records(cur, name):
                sig = r.get("s", {}).get(str(k))
                uid = (name, *r["o"])
                if sig is None or uid in removed or (r["v"] is not None and r["v"][0] < k):
                    continue  # did not reach this op
                v = index.check(sig, name, r["id"])
                if v is not None:
                    removed[uid] = [k, v.action, v.reason, v.statistic]
    return removed


def manifest_done(cur: Curation, name: str) -> dict | None:
    path = cur.out_dir / name / "manifest.json"
    if not path.exists():
        return None
    m = json.loads(path.read_text())
    if m.get("config_hash") != cur.config_hash or not all((path.parent / s["name"]).exists() for s in m["shards"]):
        return None
    return m


def write_source(cur: Curation, name: str, removed: dict[tuple, list]) -> dict:
    out = cur.out_dir / name
    out.mkdir(parents=True, exist_ok=True)
    for stale in [*out.glob("*.tar"), *out.glob("*.tmp*"), out / "manifest.json", out / "rejects.jsonl"]:
        stale.unlink(missing_ok=True)
    counts = {"read": 0, "kept": 0, "quarantined": 0,
              "dropped": {op.name: 0 for op in cur.ops}, "quarantined_by": {}}
    written: set[str] = set()  # shard keys of the samples kept so far
    stage = StagedReader(cur, name)
    with ShardWriter(out, prefix="shard", max_count=cur.shard_max_count, max_bytes=cur.shard_max_bytes) as w, \
            atomic_open(out / "rejects.jsonl", errors=JSON_SURROGATES) as rj:
        for r in records(cur, name):
            counts["read"] += 1
            final = r["v"]
            dd = removed.get((name, *r["o"]))
            if dd is not None and (final is None or dd[0] < final[0]):
                final = dd
            key = shard_key(r["id"])
            if final is None and key in written:  # a tar member would be overwritten: the later copy goes
                final = [DUPLICATE_ID, "drop", f"duplicate id {r['id']!r}: a sample with shard key {key!r} "
                                               f"was kept before it", None]
            if final is None:
                w.write_span(stage.span(r["t"]))
                written.add(key)
                counts["kept"] += 1
                continue
            k, action, reason, stat = final
            op = k if k == DUPLICATE_ID else cur.op_name(k)
            if action == "quarantine":
                counts["quarantined"] += 1
                counts["quarantined_by"][op] = counts["quarantined_by"].get(op, 0) + 1
            else:
                counts["dropped"][op] = counts["dropped"].get(op, 0) + 1
            rj.write(dumps({"id": r["id"], "source": name, "op": op, "action": action, "reason": reason,
                            "statistic": stat, "file": r.get("f"), "row": r.get("r"),
                            **({"field": r["field"]} if r.get("field") else {})}) + "\n")
        shards = w.close()
    stage.close()
    total = counts["kept"] + counts["quarantined"] + sum(counts["dropped"].values())
    if total != counts["read"]:
        raise RuntimeError(f"curation of {name} does not balance: read {counts['read']}, accounted {total}")
    manifest = {"source": name, "config_hash": cur.config_hash, "format_version": FORMAT_VERSION,
                "ops": [op.name for op in cur.ops], "shards": shards, "counts": counts}
    write_atomic(out / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def merge(cur: Curation) -> dict[str, dict]:
    done = {name: manifest_done(cur, name) for name in cur.sources}
    if all(m is not None for m in done.values()):  # merged already (a rerun): nothing to redo
        return done
    missing = [p for p in range(cur.num_partitions) if not (cur.part_dir(p) / "DONE").exists()]
    if missing:
        raise RuntimeError(f"curation merge needs every partition; missing {missing} of {cur.num_partitions} "
                           f"(run them with curation.partition=<i>, or run without curation.partition)")
    if any(m is None for m in done.values()):
        removed = dedup_pass(cur)
        for name, m in done.items():
            if m is None:
                done[name] = write_source(cur, name, removed)
    if not cur.keep_work:
        shutil.rmtree(cur.work_dir, ignore_errors=True)
        if not any(cur.work_dir.parent.iterdir()):
            cur.work_dir.parent.rmdir()
    return done


def curate(cur: Curation, partition: int | None = None) -> dict[str, Any]:
    """Map one partition (when `partition` is set), or everything then merge. Resumable."""
    if partition is not None:
        if not 0 <= partition < cur.num_partitions:
            raise ValueError(f"curation.partition={partition} is outside 0..{cur.num_partitions - 1}")
        if all(manifest_done(cur, n) for n in cur.sources):
            return {"partition": partition, "status": "already merged"}
        ran = run_map(cur, [partition])
        return {"partition": partition, "status": "mapped" if ran else "already mapped"}
    if not all(manifest_done(cur, n) for n in cur.sources):
        run_map(cur, list(range(cur.num_partitions)))
    manifests = merge(cur)
    return {"shard_dirs": {n: str(cur.out_dir / n) for n in cur.sources},
            "counts": {n: m["counts"] for n, m in manifests.items()},
            "manifests": {n: str(cur.out_dir / n / "manifest.json") for n in cur.sources}}


def config_hash(obj: Any) -> str:
    return io.config_hash([FORMAT_VERSION, obj])
