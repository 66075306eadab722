"""Dedup ops. They work in two steps so that partitions can run apart: `signature()` runs with the
per-sample ops (pHash values, MinHash signature, exact hash) and is written to a compact signature
file; the merge step streams those files in a fixed order and asks an index which are duplicates.

scope: `global` (one index), `per_source` (one index per source), `cross_source` (a duplicate only
when the earlier copy comes from another source). keep: `first` (sources in config order) or
`priority` (sources by descending `priority`, then config order); within a source, row order.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import defaultdict
from typing import Any, Callable

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

from lingshu.curation.ops import Op, Verdict, phashes, stats
from lingshu.schema import IMAGE_TOKEN, Sample

SCOPES = ("global", "per_source", "cross_source")
KEEP = ("first", "priority")
SCHEME = "affine32"  # datasketch's 32-bit hash scheme: pinned so stored signatures stay comparable
Hit = tuple[str, str, Any]  # (kept sample id, its source, statistic)


class DedupOp(Op):
    dedup = True

    def __init__(self, scope: str = "global", keep: str = "first", **kw):
        super().__init__(**kw)
        if scope not in SCOPES or keep not in KEEP:
            raise ValueError(f"curation op {self.name}: scope must be in {SCOPES}, keep in {KEEP}")
        self.scope, self.keep = scope, keep

    def signature(self, sample: Sample, ctx: dict) -> Any:
        raise NotImplementedError

    def new_table(self) -> "Table":
        raise NotImplementedError

    def new_index(self) -> "Deduper":
        return Deduper(self)


class Table:
    def find(self, sig: Any, accept: Callable[[str], bool]) -> Hit | None:
        raise NotImplementedError

    def add(self, sig: Any, source: str, sid: str) -> None:
        raise NotImplementedError


class Deduper:
    """Applies an op's scope over its tables; `check` returns a drop Verdict or records the sample."""

    def __init__(self, op: DedupOp):
        self.op = op
        self.tables: dict[str, Table] = defaultdict(op.new_table)

    def check(self, sig: Any, source: str, sid: str) -> Verdict | None:
        table = self.tables[source if self.op.scope == "per_source" else ""]
        accept = (lambda s: s != source) if self.op.scope == "cross_source" else (lambda s: True)
        hit = table.find(sig, accept)
        if hit is not None:
            kept_id, kept_source, stat = hit
            return Verdict("drop", f"{self.op.name}: duplicate of {kept_id} ({kept_source})",
                           {"duplicate_of": kept_id, "duplicate_source": kept_source, **stat})
        table.add(sig, source, sid)
        return None


# -- perceptual-hash image dedup --------------------------------------------------------------------
class HammingTable(Table):
    """64-bit hashes within `threshold` bits. Split into threshold+1 bands: two hashes that close
    agree exactly on at least one band (pigeonhole), so only band collisions are compared."""

    def __init__(self, threshold: int, granularity: str):
        self.t, self.granularity = threshold, granularity
        bands = threshold + 1
        edges = np.linspace(0, 64, bands + 1).astype(int)
        self.bands = [(int(a), (1 << int(b - a)) - 1) for a, b in zip(edges[:-1], edges[1:])]
        self.index: list[dict[int, list]] = [defaultdict(list) for _ in self.bands]

    def _lookup(self, h: int, accept) -> tuple | None:
        for (shift, mask), table in zip(self.bands, self.index):
            for entry in table.get((h >> shift) & mask, ()):
                if bin(entry[0] ^ h).count("1") <= self.t and accept(entry[2]):
                    return entry
        return None

    def find(self, sig: list[int], accept) -> Hit | None:
        if self.granularity == "image":
            for h in sig:
                e = self._lookup(h, accept)
                if e is not None:
                    return e[3], e[2], {"phash": f"{h:016x}", "distance": bin(e[0] ^ h).count("1")}
            return None
        # sample granularity: every image in order must match (the first one finds candidates)
        for (shift, mask), table in zip(self.bands, self.index):
            for h0, all_h, src, sid in table.get((sig[0] >> shift) & mask, ()):
                if (len(all_h) == len(sig) and accept(src)
                        and all(bin(a ^ b).count("1") <= self.t for a, b in zip(all_h, sig))):
                    return sid, src, {"phash": [f"{h:016x}" for h in sig]}
        return None

    def add(self, sig: list[int], source: str, sid: str) -> None:
        for h in (sig if self.granularity == "image" else sig[:1]):
            entry = (h, tuple(sig), source, sid)
            for (shift, mask), table in zip(self.bands, self.index):
                table[(h >> shift) & mask].append(entry)


class PhashDedup(DedupOp):
    """Perceptual-hash image dedup; threshold 0 is the paper's exact pHash match."""

    def __init__(self, threshold: int = 0, granularity: str = "sample", **kw):
        kw.setdefault("images", True)
        super().__init__(**kw)
        if granularity not in ("sample", "image"):
            raise ValueError(f"curation op {self.name}: granularity must be sample or image")
        self.threshold, self.granularity = threshold, granularity

    def signature(self, sample: Sample, ctx: dict) -> list[int] | None:
        return phashes(sample, ctx) or None

    def new_table(self) -> Table:
        return HammingTable(self.threshold, self.granularity)


# -- text near-dup (MinHash-LSH) ----------------------------------------------------------------------
_WORD = re.compile(r"\w+", re.UNICODE)


def normalized_words(text: str) -> list[str]:
    return _WORD.findall(text.replace(IMAGE_TOKEN, " ").lower())


def sample_text(sample: Sample) -> str:
    return "\n".join(m["content"] for m in sample.messages)


class MinHashTable(Table):
    """LSH buckets over kept signatures; candidates are confirmed on the stored signature (512 bytes
    per kept text: the one per-sample cost of the merge step's memory)."""

    def __init__(self, op: "MinHashDedup"):
        self.op = op
        self.lsh = MinHashLSH(threshold=op.threshold, num_perm=op.num_perm)
        self.entries: list[tuple[str, str, bytes]] = []

    def find(self, sig: str, accept) -> Hit | None:
        m, raw = self.op.decode(sig)
        values = np.frombuffer(raw, dtype="<u4")
        for key in sorted(self.lsh.query(m)):  # sorted: the earliest kept copy wins, deterministically
            sid, src, other = self.entries[key]
            jac = float(np.mean(values == np.frombuffer(other, dtype="<u4")))
            if jac >= self.op.threshold and accept(src):
                return sid, src, {"jaccard": round(jac, 4)}
        return None

    def add(self, sig: str, source: str, sid: str) -> None:
        m, raw = self.op.decode(sig)
        self.lsh.insert(len(self.entries), m)
        self.entries.append((sid, source, raw))


class MinHashDedup(DedupOp):
    """Near-duplicate text removal: MinHash over word n-grams, LSH at a Jaccard threshold."""

    def __init__(self, num_perm: int = 128, threshold: float = 0.8, ngram: int = 5, seed: int = 1, **kw):
        kw.setdefault("keep", "priority")
        super().__init__(**kw)
        self.num_perm, self.threshold, self.ngram, self.seed = num_perm, threshold, ngram, seed
        self._perm = MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME).permutations  # reused: slow to build

    def signature(self, sample: Sample, ctx: dict) -> str | None:
        words = normalized_words(sample_text(sample))
        if not words:
            return None
        n = min(self.ngram, len(words))
        shingles = {" ".join(words[i:i + n]).encode() for i in range(len(words) - n + 1)}
        m = MinHash(num_perm=self.num_perm, seed=self.seed, permutations=self._perm, scheme=SCHEME)
        m.update_batch(sorted(shingles))
        stats(sample)["shingles"] = len(shingles)
        # the affine32 scheme gives values < 2**32, so uint32 keeps the signature file compact
        return base64.b64encode(m.hashvalues.astype("<u4").tobytes()).decode()

    def decode(self, sig: str) -> tuple[LeanMinHash, bytes]:
        raw = base64.b64decode(sig)
        values = np.frombuffer(raw, dtype="<u4").astype(np.uint64)
        return LeanMinHash(seed=self.seed, hashvalues=values, scheme=SCHEME), raw

    def new_table(self) -> Table:
        return MinHashTable(self)


# -- exact dedup ---------------------------------------------------------------------------------------
class DictTable(Table):
    def __init__(self):
        self.seen: dict[str, list[tuple[str, str]]] = defaultdict(list)

    def find(self, sig: str, accept) -> Hit | None:
        for src, sid in self.seen.get(sig, ()):
            if accept(src):
                return sid, src, {"hash": sig}
        return None

    def add(self, sig: str, source: str, sid: str) -> None:
        self.seen[sig].append((source, sid))


class ExactDedup(DedupOp):
    """Exact duplicates: the same normalised text and the same image bytes."""

    def signature(self, sample: Sample, ctx: dict) -> str:
        h = hashlib.sha1(" ".join(normalized_words(sample_text(sample))).encode())
        for img in sample.images:
            h.update(hashlib.sha1(img).digest())
        sig = h.hexdigest()[:20]
        stats(sample)["exact_hash"] = sig
        return sig

    def new_table(self) -> Table:
        return DictTable()
