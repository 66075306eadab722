"""Curation throughput and memory on CPU, and near-duplicate text dedup before/after.

Images (--sections images). Corpus: 512 px JPEG caption pairs (every image and caption distinct, so
nothing is deduplicated away), read by the `caption_pairs` source. Chain: decode check + min-size +
pHash dedup + MinHash dedup, then shard writing. Measured in the same run:
1. bare loop: the same kernels (decode, min side, pHash, MinHash signature, ShardWriter) called
   directly on each sample in one process;
2. lingshu end to end on one worker: map, merge (dedup over signatures, final shards), manifest;
3. lingshu with --workers at --sizes (default 10k and 50k): samples/s per core and peak memory of
   the map workers (streaming) and of the merge process (holds the dedup indexes).
Goals (issue 3): >= 150 samples/s per core, lingshu / bare time <= 1.3, memory flat across sizes.

Text (--sections text). A planted corpus (lingshu.curation.planted) of --text-docs documents: pairs
of an original and its copy, 80% near-duplicates at word-5-gram Jaccard 0.85-0.99, 20% decoys at
0.2-0.5, in two sources (copies in the more reliable one). The paper's MinHash op on one worker,
end to end; variants alternated, --repeats each, min/median docs/s/core, recall and precision:
  before: the previous kernels and config (SHA-1 per shingle through datasketch, `asdict` in
          Sample.to_json, 128 permutations in datasketch's 9 x 13 split) over today's LSH index;
  + shallow to_json; + CRC-32 n-gram hashing (= today's code, old config); today's default config.

    python perf/curation.py [--sections images text] [--sizes 10000 50000] [--rate-size 5000]
        [--workers 2] [--repeats 2] [--text-docs 20000] [--text-repeats 3] [--cache /tmp/lingshu-bench-curation]
        [--out perf/results/curation.json]
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

from common import deep_to_json  # perf/ (this script's folder)

CAPTION_WORDS = 30


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
        from lingshu.curation.planted import vocabulary

        words, rng = vocabulary(np.random.default_rng(0), 5000), np.random.default_rng(7)
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
    from lingshu.curation.dedup import MinHashDedup
    from lingshu.curation.ops import PHASH_DRAFT, Facts, open_image, phash_of
    from lingshu.data.shards import ShardWriter
    from lingshu.data.sources.base import chat
    from lingshu.schema import Sample

    minhash = MinHashDedup(name="minhash")
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
            minhash.signature(s, Facts())
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


# -- near-duplicate text dedup: before / after ---------------------------------------------------------
OLD_CONFIG = {"num_perm": 128, "bands": 9, "rows": 13}
TEXT_VARIANTS = {  # name: (op settings over paper.yaml's minhash_text, asdict to_json, SHA-1 signatures)
    "before: SHA-1, asdict, 128 perms 9x13": (OLD_CONFIG, True, True),
    "+ shallow to_json": (OLD_CONFIG, False, True),
    "+ CRC-32 n-grams (old config)": (OLD_CONFIG, False, False),
    "today (paper.yaml)": ({}, False, False),
}


def text_corpus(root: Path, n_docs: int) -> Path:
    """Originals and their copies (cached across runs) and each pair's exact Jaccard."""
    from lingshu.curation.planted import planted_corpus, write_instruction_jsonl

    d = root / f"text-{n_docs}"
    if not (d / "pairs.json").exists():
        n = n_docs // 2
        originals, copies, pairs = planted_corpus(n_dups=n - n // 5, n_decoys=n // 5, seed=0)
        d.mkdir(parents=True, exist_ok=True)
        write_instruction_jsonl(d / "web.jsonl", originals)
        write_instruction_jsonl(d / "textbook.jsonl", copies)
        (d / "pairs.json").write_text(json.dumps([[p.original, p.jaccard] for p in pairs]))
    return d


def previous_minhash(node):
    """The previous signature kernel: every shingle string hashed by SHA-1 inside datasketch."""
    import base64

    from datasketch import MinHash

    from lingshu.curation.dedup import SCHEME, MinHashDedup, normalized_words, sample_text

    class Sha1MinHash(MinHashDedup):
        def signature(self, sample, facts):
            words = normalized_words(sample_text(sample))
            n = min(self.ngram, len(words))
            m = MinHash(num_perm=self.num_perm, seed=self.seed, permutations=self.perm, scheme=SCHEME)
            m.update_batch(sorted({" ".join(words[i:i + n]).encode() for i in range(len(words) - n + 1)}))
            return base64.b64encode(m.hashvalues.astype("<u4").tobytes()).decode()

    op = Sha1MinHash(**{k: v for k, v in node.items() if k != "_target_"})
    op.perm = MinHash(num_perm=op.num_perm, seed=op.seed, scheme=SCHEME).permutations
    return op


def text_run(corpus: Path, variant: str, out: Path) -> dict:
    """One dedup of the planted corpus in this (fresh) process, on one core: time, recall, precision."""
    from omegaconf import OmegaConf

    from lingshu.curation.runner import Curation, config_hash, curate
    from lingshu.data.sources.text import InstructionJsonlSource
    from lingshu.schema import Sample
    from lingshu.tasks.curate import build_ops

    settings, deep, sha1 = TEXT_VARIANTS[variant]
    node = OmegaConf.load(Path(__file__).resolve().parents[1] / "conf" / "curation" / "paper.yaml").ops.minhash_text
    node = OmegaConf.merge(node, settings)
    if deep:
        Sample.to_json = deep_to_json
    op = previous_minhash(OmegaConf.to_container(node)) if sha1 else build_ops({"minhash_text": node})[0]
    op.name = "minhash_text"
    sources = {"web": InstructionJsonlSource(path=corpus / "web.jsonl", name="web"),
               "textbook": InstructionJsonlSource(path=corpus / "textbook.jsonl", name="textbook", priority=1)}
    cur = Curation(sources=sources, ops=[op], out_dir=out, config_hash=config_hash(variant))
    t0, c0 = time.perf_counter(), time.process_time()
    result = curate(cur)  # one worker: map and merge in this process, so its CPU time is the run's
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    removed = {json.loads(x)["id"] for x in (out / "web" / "rejects.jsonl").read_text().splitlines()}
    pairs = json.loads((corpus / "pairs.json").read_text())
    dups = {f"web-{o}" for o, j in pairs if j >= 0.85}
    docs = sum(c["read"] for c in result["counts"].values())
    return {"docs": docs, "seconds": seconds, "cpu_seconds": cpu, "docs_per_s_per_core": docs / cpu,
            "recall": len(removed & dups) / len(dups), "precision": len(removed & dups) / max(1, len(removed)),
            "decoys_removed": len(removed - dups), "split": f"{op.bands}x{op.rows} of {op.num_perm}"}


def text_section(args, work: Path) -> dict:
    corpus = text_corpus(args.cache, args.text_docs)
    runs = {v: [] for v in TEXT_VARIANTS}
    for rep in range(args.text_repeats):  # alternated: other load on the machine hits every variant alike
        for i, v in enumerate(TEXT_VARIANTS):
            runs[v].append(in_subprocess(text_run, corpus, v, work / f"text{rep}-{i}"))
            shutil.rmtree(work / f"text{rep}-{i}", ignore_errors=True)
    return {v: {**rs[0], **{k: sorted(r[k] for r in rs) for k in ("seconds", "cpu_seconds", "docs_per_s_per_core")}}
            for v, rs in runs.items()}


def print_text(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    first = next(iter(results.values()))
    reps = len(first["cpu_seconds"])
    table = Table(title=f"near-dup text dedup, {first['docs']:,} planted docs, 1 worker (min/median of {reps}, "
                        f"alternated; CPU seconds of the run's process: robust to a shared machine)")
    for col in ("variant", "LSH split", "CPU s min", "CPU s median", "wall s min", "docs/s/core", "vs before",
                "recall J>=0.85", "precision"):
        table.add_column(col, justify="left" if col in ("variant", "LSH split") else "right")
    base = first["cpu_seconds"][0]
    for v, r in results.items():
        cpu = r["cpu_seconds"]
        table.add_row(v, r["split"], f"{cpu[0]:.1f}", f"{cpu[len(cpu) // 2]:.1f}", f"{r['seconds'][0]:.1f}",
                      f"{r['docs_per_s_per_core'][-1]:,.0f}", f"{base / cpu[0]:.2f}x", f"{r['recall']:.4f}",
                      f"{r['precision']:.4f}")
    Console(width=160).print(table)


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
    ap.add_argument("--sections", nargs="+", choices=["images", "text"], default=["images", "text"])
    ap.add_argument("--text-docs", type=int, default=20_000, help="planted documents (originals + copies)")
    ap.add_argument("--text-repeats", type=int, default=3, help="alternated runs of each text variant")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    ap.add_argument("--rate-size", type=int, default=5_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2, help="bare/lingshu pairs at --rate-size (best of each)")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/lingshu-bench-curation"))
    ap.add_argument("--out", type=Path, default=Path("perf/results/curation.json"))
    args = ap.parse_args()
    work = args.cache / "runs"
    shutil.rmtree(work, ignore_errors=True)
    results = {}
    if "text" in args.sections:
        results["text_dedup"] = text_section(args, work)
        print_text(results["text_dedup"])
    if "images" in args.sections:
        results.update(image_section(args, work))
    from lingshu.io import write_json
    write_json(args.out, results)
    print(f"wrote {args.out}")


def image_section(args, work: Path) -> dict:
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
    return results


if __name__ == "__main__":
    main()
