"""Curation throughput and memory on CPU.

Corpus: 512 px JPEG caption pairs (every image and caption distinct, so nothing is deduplicated away),
read by the `caption_pairs` source. Chain: decode check + min-size + pHash dedup + MinHash dedup,
then shard writing. Measured in the same run:
1. bare loop: the same kernels (decode, min side, pHash, MinHash signature, ShardWriter) called
   directly on each sample in one process;
2. lingshu end to end on one worker: map, merge (dedup over signatures, final shards), manifest;
3. lingshu with --workers at --sizes (default 10k and 50k): samples/s per core and peak memory of
   the map workers (streaming) and of the merge process (holds the dedup indexes).
Goals (issue 3): >= 150 samples/s per core, lingshu / bare time <= 1.3, memory flat across sizes.

    python benchmarks/curation.py [--sizes 10000 50000] [--rate-size 5000] [--workers 2] [--repeats 2]
                                  [--cache /tmp/lingshu-bench-curation] [--out benchmarks/results/curation.json]
(with the package importable: `pip install -e .`, or PYTHONPATH=. from the repository root)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import shutil
import time
from pathlib import Path

import numpy as np
from PIL import Image

CAPTION_WORDS = 30


def vocabulary() -> list[str]:
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    return ["".join(rng.choice(letters, size=rng.integers(3, 10))) for _ in range(5000)]


def make_image(i: int, path: Path) -> None:
    """A distinct smooth 512 px picture (photographic JPEG size, a unique pHash)."""
    rng = np.random.default_rng(1_000_003 + i)
    small = Image.fromarray((rng.random((12, 12, 3)) * 255).astype(np.uint8))
    small.resize((512, 512), Image.BICUBIC).save(path, format="JPEG", quality=90)


def _make_range(args) -> None:
    root, start, stop = args
    for i in range(start, stop):
        p = root / "images" / f"{i:06d}.jpg"
        if not p.exists():
            make_image(i, p)


def make_corpus(root: Path, n: int, workers: int) -> Path:
    """Images 0..n-1 (cached across runs) and a caption table of the first n."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    chunks = [(root, s, min(s + 500, n)) for s in range(0, n, 500)]
    with mp.get_context("fork").Pool(workers) as pool:
        pool.map(_make_range, chunks)
    table = root / f"captions-{n}.jsonl"
    if not table.exists():
        words, rng = vocabulary(), np.random.default_rng(7)
        with open(table, "w") as f:
            for i in range(n):
                caption = " ".join(words[j] for j in rng.integers(0, len(words), CAPTION_WORDS))
                f.write(json.dumps({"id": f"{i:06d}", "image": f"images/{i:06d}.jpg", "caption": caption}) + "\n")
    return table


def chain():
    from lingshu.curation.dedup import MinHashDedup, PhashDedup
    from lingshu.curation.ops import DecodeCheck, MinSize

    return [DecodeCheck(name="decode"), MinSize(name="min_size", min_side=64),
            PhashDedup(name="phash", kinds=["caption"]), MinHashDedup(name="minhash", images=None, scope="global")]


def bare_loop(table: Path, out: Path) -> dict:
    """The kernels alone: no work files, no partitions, no audit."""
    from datasketch import MinHash

    from lingshu.curation.dedup import SCHEME, normalized_words, sample_text
    from lingshu.curation.ops import PHASH_DRAFT, open_image, phash_of
    from lingshu.data.shards import ShardWriter
    from lingshu.data.sources.base import chat
    from lingshu.schema import Sample

    perm = MinHash(num_perm=128, seed=1, scheme=SCHEME).permutations
    t0, n = time.perf_counter(), 0
    with ShardWriter(out, max_count=1000) as w:
        for line in open(table):
            rec = json.loads(line)
            data = (table.parent / rec["image"]).read_bytes()
            s = Sample(id=rec["id"], source="bare", kind="caption", images=[data], messages=chat("Describe.", rec["caption"], 1))
            img, size = open_image(data, 89_478_485, PHASH_DRAFT)
            if min(size) < 64:
                continue
            s.meta["phash"] = phash_of(img)
            words = normalized_words(sample_text(s))
            m = MinHash(num_perm=128, seed=1, permutations=perm, scheme=SCHEME)
            m.update_batch(sorted({" ".join(words[i:i + 5]).encode() for i in range(len(words) - 4)}))
            w.write(s)
            n += 1
    return {"samples": n, "seconds": time.perf_counter() - t0}


def lingshu_run(table: Path, out: Path, workers: int, partitions: int) -> dict:
    """One curation in this (fresh) process; peak RSS of this process (merge) and its workers (map)."""
    from lingshu.curation.runner import Curation, config_hash, curate
    from lingshu.data.sources.captions import CaptionPairsSource

    source = CaptionPairsSource(path=table, id_column="id", name="bench")
    cur = Curation(sources={"bench": source}, ops=chain(), out_dir=out, config_hash=config_hash(str(table)),
                   num_partitions=partitions, workers=workers)
    t0 = time.perf_counter()
    result = curate(cur)
    seconds = time.perf_counter() - t0
    counts = result["counts"]["bench"]
    return {"samples": counts["read"], "kept": counts["kept"], "seconds": seconds,
            "peak_rss_main_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "peak_rss_workers_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def _child(fn, args, queue) -> None:
    queue.put(fn(*args))


def in_subprocess(fn, *args) -> dict:
    """Run in a fresh (non-daemon, so it may fork workers) process: timings and peak memory are its own."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    ap.add_argument("--rate-size", type=int, default=5_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2, help="bare/lingshu pairs at --rate-size (best of each)")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/lingshu-bench-curation"))
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/curation.json"))
    args = ap.parse_args()
    work = args.cache / "runs"
    shutil.rmtree(work, ignore_errors=True)
    t0 = time.perf_counter()
    tables = {n: make_corpus(args.cache, n, args.workers) for n in sorted({args.rate_size, *args.sizes})}
    print(f"corpus ready in {time.perf_counter() - t0:.0f} s")

    rate_table = tables[args.rate_size]
    runs = {"bare": [], "one": []}
    for rep in range(args.repeats):  # interleaved, best of each: other load on the machine hits both alike
        runs["bare"].append(in_subprocess(bare_loop, rate_table, work / f"bare{rep}"))
        runs["one"].append(in_subprocess(lingshu_run, rate_table, work / f"one{rep}", 1, 1))
        shutil.rmtree(work, ignore_errors=True)
    bare, one = (min(runs[k], key=lambda r: r["seconds"]) for k in ("bare", "one"))
    results = {"cpu_cores_used": {"bare": 1, "lingshu_1_worker": 1},
               "bare_loop": {**bare, "samples_per_s": bare["samples"] / bare["seconds"]},
               "lingshu_1_worker": {**one, "samples_per_s": one["samples"] / one["seconds"]},
               "scale": {}}
    results["overhead_ratio"] = one["seconds"] / bare["seconds"]
    for n in args.sizes:
        r = in_subprocess(lingshu_run, tables[n], work / f"w{n}", args.workers, 4 * args.workers)
        r["samples_per_s_per_core"] = r["samples"] / r["seconds"] / args.workers
        results["scale"][str(n)] = r
        shutil.rmtree(work / f"w{n}", ignore_errors=True)

    from rich.console import Console
    from rich.table import Table

    table = Table(title="curation: 512 px JPEG captions (decode, min-size, pHash, MinHash, shards)")
    for col in ("run", "samples", "seconds", "samples/s/core", "peak RSS map MB", "peak RSS merge MB"):
        table.add_column(col, justify="left" if col == "run" else "right")
    table.add_row("bare loop, 1 core", str(bare["samples"]), f"{bare['seconds']:.1f}",
                  f"{results['bare_loop']['samples_per_s']:.0f}", "", "")
    table.add_row("lingshu, 1 worker", str(one["samples"]), f"{one['seconds']:.1f}",
                  f"{results['lingshu_1_worker']['samples_per_s']:.0f}", "", f"{one['peak_rss_main_mb']:.0f}")
    for n, r in results["scale"].items():
        table.add_row(f"lingshu, {args.workers} workers", n, f"{r['seconds']:.1f}", f"{r['samples_per_s_per_core']:.0f}",
                      f"{r['peak_rss_workers_mb']:.0f}", f"{r['peak_rss_main_mb']:.0f}")
    Console().print(table)
    print(f"lingshu / bare loop time: {results['overhead_ratio']:.2f}x (goal <= 1.3)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
