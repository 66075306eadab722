"""The curation runner: a map step per partition, then one merge step.

map (partition p of N, any machine): every source's rows with index % N == p go through the chain.
  Per-sample ops decide at once; dedup ops only compute signatures. Survivors go to staging tars,
  and one `WorkRecord` per record (order, decision, signatures, provenance, where its tar bytes
  are; see work.py) goes to `records.jsonl`. A `DONE` marker, written last, makes the partition
  skippable on rerun; an unmarked partition is redone from scratch, so a kill at any moment loses
  only that partition. Ops pass what they learn about a record to the ops after them through its
  `Facts`; the pipeline's `ImageCache` remembers recent images across records.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from lingshu import io
from lingshu.curation.ops import Facts, ImageCache, Op
from lingshu.curation.work import SOURCE, Decision, Staged, WorkRecord
from lingshu.io import atomic_open, dumps, read_jsonl, write_atomic
from lingshu.data.shards import ShardWriter, shard_key
from lingshu.data.sources.base import Quarantine, Source

FORMAT_VERSION = 3  # bump when the meaning of work files or shards changes (3: typed work records, bare questions)
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
    images: ImageCache = field(default_factory=ImageCache)  # this pipeline's memo of recently seen images

    def __post_init__(self) -> None:
        names = [op.name for op in self.ops]
        if len(set(names)) != len(names) or {SOURCE, DUPLICATE_ID} & set(names):
            raise ValueError(f"curation ops need distinct names other than {SOURCE!r} and {DUPLICATE_ID!r}, "
                             f"got {names}")
        self.position = {SOURCE: -1, **{name: k for k, name in enumerate(names)}}  # op name -> chain position

    @property
    def work_dir(self) -> Path:
        return self.out_dir / "_work" / self.config_hash[:16]

    def part_dir(self, p: int) -> Path:
        return self.work_dir / f"part-{p:05d}-of-{self.num_partitions:05d}"


# -- map -------------------------------------------------------------------------------------------------
def process(ops: list[Op], rec: Any, order: tuple[int, int], images: ImageCache) -> tuple[WorkRecord, Any]:
    """One record through the chain: its work record, and the Sample when it survives."""
    if isinstance(rec, Quarantine):
        return WorkRecord(rec.id, order, rec.file, rec.row, rec.field,
                          Decision(SOURCE, "quarantine", rec.reason)), None
    sample, facts = rec, Facts(images)
    work = WorkRecord(sample.id, order, sample.meta.get("file"), sample.meta.get("row"))
    for op in ops:
        if not op.applies(sample):
            continue
        try:
            if op.dedup:
                sig = op.signature(sample, facts)
                if sig is not None:
                    work.signatures[op.name] = sig
            else:
                v = op(sample, facts)
                if v is not None:
                    work.decision = Decision.of(op.name, v)
                    break
        except Exception as e:  # an op failing on one sample quarantines it, with the error
            work.decision = Decision(op.name, "quarantine", f"{type(e).__name__}: {e}")
            break
    return work, (sample if work.decision is None else None)


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
                work, sample = process(cur.ops, rec, (index, sub), cur.images)
                if sample is not None:
                    try:
                        work.staged = Staged(p, *w.write(sample))
                    except (UnicodeEncodeError, TypeError, ValueError) as e:  # e.g. a file name that is not UTF-8
                        work.decision = Decision(SOURCE, "quarantine",
                                                 f"cannot be written to a shard: {type(e).__name__}: {e}")
                f.write(dumps(work.to_json()) + "\n")
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
def records(cur: Curation, name: str) -> Iterator[WorkRecord]:
    """A source's work records from every partition, in global (row, sub) order."""
    streams = [map(WorkRecord.from_json, read_jsonl(cur.part_dir(p) / name / "records.jsonl"))
               for p in range(cur.num_partitions)]
    return heapq.merge(*streams, key=lambda r: r.order)


class StagedReader:
    """Reads a staged sample's tar bytes back; each partition's shards are read in order, so one
    open file per partition is enough."""

    def __init__(self, cur: Curation, name: str):
        self.cur, self.name, self.open = cur, name, {}

    def span(self, where: Staged) -> bytes:
        p, shard = where.partition, where.shard
        current = self.open.get(p)
        if current is None or current[0] != shard:
            if current is not None:
                current[1].close()
            current = self.open[p] = (shard, open(self.cur.part_dir(p) / self.name / shard, "rb"))
        return os.pread(current[1].fileno(), where.length, where.offset)

    def close(self) -> None:
        for _, f in self.open.values():
            f.close()


def source_order(cur: Curation, keep: str) -> list[str]:
    names = list(cur.sources)
    if keep == "priority":  # stable sort: equal priorities keep config order
        names.sort(key=lambda n: -cur.sources[n].priority)
    return names


def dedup_pass(cur: Curation) -> dict[tuple, Decision]:
    """Run the dedup ops in chain order over signatures; returns {(source, row, sub): decision}."""
    removed: dict[tuple, Decision] = {}
    for k, op in enumerate(cur.ops):
        if not op.dedup:
            continue
        index = op.new_index()
        for name in source_order(cur, op.keep):
            if op.sources is not None and cur.sources[name].name not in op.sources:
                continue  # its samples (sample.source is the reader's name) never reached this op
            for r in records(cur, name):
                sig = r.signatures.get(op.name)
                uid = (name, *r.order)
                if sig is None or uid in removed or (r.decision is not None and cur.position[r.decision.op] < k):
                    continue  # did not reach this op
                v = index.check(sig, name, r.id)
                if v is not None:
                    removed[uid] = Decision.of(op.name, v)
    return removed


def manifest_done(cur: Curation, name: str) -> dict | None:
    path = cur.out_dir / name / "manifest.json"
    if not path.exists():
        return None
    m = json.loads(path.read_text())
    if m.get("config_hash") != cur.config_hash or not all((path.parent / s["name"]).exists() for s in m["shards"]):
        return None
    return m


def write_source(cur: Curation, name: str, removed: dict[tuple, Decision]) -> dict:
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
            final = r.decision
            dd = removed.get((name, *r.order))
            if dd is not None and (final is None or cur.position[dd.op] < cur.position[final.op]):
                final = dd
            key = shard_key(r.id)
            if final is None and key in written:  # a tar member would be overwritten: the later copy goes
                final = Decision(DUPLICATE_ID, "drop", f"duplicate id {r.id!r}: a sample with shard key {key!r} "
                                                       f"was kept before it")
            if final is None:
                w.write_span(stage.span(r.staged))
                written.add(key)
                counts["kept"] += 1
                continue
            op = final.op
            if final.action == "quarantine":
                counts["quarantined"] += 1
                counts["quarantined_by"][op] = counts["quarantined_by"].get(op, 0) + 1
            else:
                counts["dropped"][op] = counts["dropped"].get(op, 0) + 1
            rj.write(dumps({"id": r.id, "source": name, "op": op, "action": final.action, "reason": final.reason,
                            "statistic": final.statistic, "file": r.file, "row": r.row,
                            **({"field": r.field} if r.field else {})}) + "\n")
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
