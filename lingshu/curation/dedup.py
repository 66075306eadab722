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
import math
import os
import re
import tempfile
import zlib
from array import array
from collections import defaultdict
from typing import Any, Callable, Iterator

import numpy as np
from datasketch import MinHash

from lingshu.curation.ops import Facts, Op, Verdict, phashes, stats
from lingshu.prompts import render_messages
from lingshu.schema import IMAGE_TOKEN, Sample

SCOPES = ("global", "per_source", "cross_source")
KEEP = ("first", "priority")
SCHEME = "affine32"  # datasketch's 32-bit permutation scheme: pinned so signatures stay comparable
Hit = tuple[str, str, Any]  # (kept sample id, its source, statistic)


class DedupOp(Op):
    dedup = True

    def __init__(self, scope: str = "global", keep: str = "first", **kw):
        super().__init__(**kw)
        if scope not in SCOPES or keep not in KEEP:
            raise ValueError(f"curation op {self.name}: scope must be in {SCOPES}, keep in {KEEP}")
        self.scope, self.keep = scope, keep

    def signature(self, sample: Sample, facts: Facts) -> Any:
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


def fold32(x: int) -> int:
    """Any int (a 64-bit hash, a band key) folded to a signed 32-bit bucket key. Tables confirm every
    candidate on its full value, so bucket collisions cost a comparison, never a wrong answer."""
    x &= 0xFFFFFFFFFFFFFFFF
    x = (x ^ (x >> 32)) & 0xFFFFFFFF
    return x - (1 << 32) if x >= 1 << 31 else x


class IntMultiMap:
    """int32 key -> several int32 values by open addressing over two flat arrays: 8 bytes a slot,
    about 16 an entry, where a dict of lists costs over 100; this is the merge step's memory."""

    def __init__(self, capacity: int = 1024):
        self.keys = array("i", bytes(4 * capacity))
        self.values = array("i", [-1]) * capacity
        self.n, self.mask, self.shift = 0, capacity - 1, 33 - capacity.bit_length()
        self.limit = 7 * capacity // 10  # at most 70% full: probe runs stay short

    def get(self, key: int) -> list[int]:
        keys, values, mask = self.keys, self.values, self.mask
        i = ((key * 0x9E3779B1) & 0xFFFFFFFF) >> self.shift  # Fibonacci hashing: top bits of key * 2**32/phi
        out, v = [], values[i]
        while v >= 0:
            if keys[i] == key:
                out.append(v)
            i = (i + 1) & mask
            v = values[i]
        return out

    def put(self, key: int, value: int) -> None:
        if self.n >= self.limit:
            self._grow()
        keys, values, mask = self.keys, self.values, self.mask
        i = ((key * 0x9E3779B1) & 0xFFFFFFFF) >> self.shift
        while values[i] >= 0:
            i = (i + 1) & mask
        keys[i], values[i] = key, value
        self.n += 1

    def _grow(self) -> None:
        keys, values = self.keys, self.values
        self.__init__(2 * len(keys))
        put = self.put
        for k, v in zip(keys, values):
            if v >= 0:
                put(k, v)


class Entries:
    """What the tables share: per band, bucket key -> entry numbers; per entry, the sample id (in a
    temporary file: ids are the bulk of it) and its source."""

    def __init__(self, n_buckets: int):
        self.buckets = [IntMultiMap() for _ in range(n_buckets)]
        self._ids = tempfile.TemporaryFile()
        self._ends = array("Q", [0])
        self._source = array("H")
        self._source_names: list[str] = []

    def new(self, sid: str, source: str) -> int:
        data = sid.encode()
        self._ids.write(data)
        self._ends.append(self._ends[-1] + len(data))
        if source not in self._source_names:
            self._source_names.append(source)
        self._source.append(self._source_names.index(source))
        return len(self._source) - 1

    def id(self, e: int) -> str:
        self._ids.flush()
        start = self._ends[e]
        return os.pread(self._ids.fileno(), self._ends[e + 1] - start, start).decode()

    def source(self, e: int) -> str:
        return self._source_names[self._source[e]]

    def put(self, band: int, key: int, entry: int) -> None:
        self.buckets[band].put(fold32(key), entry)

    def get(self, band: int, key: int) -> list[int]:
        return self.buckets[band].get(fold32(key))


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
        edges = np.linspace(0, 64, threshold + 2).astype(int)
        self.bands = [(int(a), (1 << int(b - a)) - 1) for a, b in zip(edges[:-1], edges[1:])]
        self.entries = Entries(len(self.bands))
        self.hashes = array("Q")  # per entry: the hash it is found by
        self.multi: dict[int, tuple[int, ...]] = {}  # sample granularity: all hashes of multi-image samples

    def _near(self, h: int, accept) -> Iterator[int]:
        for band, (shift, mask) in enumerate(self.bands):
            for e in self.entries.get(band, (h >> shift) & mask):
                if bin(self.hashes[e] ^ h).count("1") <= self.t and accept(self.entries.source(e)):
                    yield e

    def find(self, sig: list[int], accept) -> Hit | None:
        ent = self.entries
        if self.granularity == "image":
            for h in sig:
                for e in self._near(h, accept):
                    return ent.id(e), ent.source(e), {"phash": f"{h:016x}", "distance": bin(self.hashes[e] ^ h).count("1")}
            return None
        for e in self._near(sig[0], accept):  # sample granularity: every image, in order, must match
            other = self.multi.get(e, (self.hashes[e],))
            if len(other) == len(sig) and all(bin(a ^ b).count("1") <= self.t for a, b in zip(other, sig)):
                return ent.id(e), ent.source(e), {"phash": [f"{h:016x}" for h in sig]}
        return None

    def add(self, sig: list[int], source: str, sid: str) -> None:
        for h in (sig if self.granularity == "image" else sig[:1]):
            e = self.entries.new(sid, source)
            self.hashes.append(h)
            if self.granularity == "sample" and len(sig) > 1:
                self.multi[e] = tuple(sig)
            for band, (shift, mask) in enumerate(self.bands):
                self.entries.put(band, (h >> shift) & mask, e)


class PhashDedup(DedupOp):
    """Perceptual-hash image dedup; threshold 0 is the paper's exact pHash match."""

    def __init__(self, threshold: int = 0, granularity: str = "sample", **kw):
        kw.setdefault("images", True)
        super().__init__(**kw)
        if granularity not in ("sample", "image"):
            raise ValueError(f"curation op {self.name}: granularity must be sample or image")
        self.threshold, self.granularity = threshold, granularity

    def signature(self, sample: Sample, facts: Facts) -> list[int] | None:
        return phashes(sample, facts) or None

    def new_table(self) -> Table:
        return HammingTable(self.threshold, self.granularity)


# -- text near-dup (MinHash-LSH) ----------------------------------------------------------------------
_WORD = re.compile(r"\w+", re.UNICODE)


def normalized_words(text: str) -> list[str]:
    return _WORD.findall(text.replace(IMAGE_TOKEN, " ").lower())


def sample_text(sample: Sample) -> str:
    """The text as trained on (a structured question with its options and context)."""
    return "\n".join(m["content"] for m in render_messages(sample))


def lsh_split(threshold: float, num_perm: int, candidate_recall: float) -> tuple[int, int]:
    """Bands x rows for LSH: the most rows per band (fewest chance candidates) whose S-curve still pairs
    two documents at `threshold` with probability >= `candidate_recall`, with the fewest bands for it."""
    for rows in range(num_perm, 0, -1):
        hit = threshold ** rows  # one band pairs them
        if hit <= 0.0:
            continue
        bands = 1 if hit >= 1.0 else max(1, math.ceil(math.log(1.0 - candidate_recall) / math.log1p(-hit)))
        if bands * rows <= num_perm:
            return bands, rows
    raise ValueError(f"no LSH split of {num_perm} values reaches candidate_recall {candidate_recall} at {threshold}")


def p_candidate(jaccard: float, bands: int, rows: int) -> float:
    """The LSH S-curve: P(two documents at this Jaccard share at least one band)."""
    return 1.0 - (1.0 - jaccard ** rows) ** bands


class MinHashTable(Table):
    """LSH over kept signatures: `bands` bands of `rows` values, each band a bucket key; every candidate
    is then verified by its Jaccard estimated on the full signature (which waits on disk) against the
    threshold, so the bands only decide which pairs get compared."""

    def __init__(self, op: "MinHashDedup"):
        self.op, self.b, self.r = op, op.bands, op.rows
        self.entries = Entries(self.b)
        self.sigs = tempfile.TemporaryFile()
        self.size = 4 * op.num_perm
        # per row, an odd 64-bit multiplier: a band key is their dot product with the band's values
        self.mult = np.random.default_rng(0).integers(0, 1 << 63, (1, self.r), dtype=np.uint64) * 2 + 1

    def _keys(self, values: np.ndarray) -> list[int]:
        k = (values[:self.b * self.r].reshape(self.b, self.r).astype(np.uint64) * self.mult).sum(axis=1)
        return ((k ^ (k >> np.uint64(32))) & np.uint64(0xFFFFFFFF)).astype(np.uint32).view(np.int32).tolist()

    def find(self, sig: str, accept) -> Hit | None:
        values = np.frombuffer(base64.b64decode(sig), dtype="<u4")
        buckets = self.entries.buckets
        candidates = sorted({e for band, k in enumerate(self._keys(values)) for e in buckets[band].get(k)})
        if candidates:
            self.sigs.flush()
        for e in candidates:  # in order: the earliest kept copy wins, deterministically
            other = np.frombuffer(os.pread(self.sigs.fileno(), self.size, e * self.size), dtype="<u4")
            jac = float(np.count_nonzero(values == other)) / len(values)
            if jac >= self.op.threshold and accept(self.entries.source(e)):
                return self.entries.id(e), self.entries.source(e), {"jaccard": round(jac, 4)}
        return None

    def add(self, sig: str, source: str, sid: str) -> None:
        raw = base64.b64decode(sig)
        e = self.entries.new(sid, source)
        self.sigs.write(raw)  # flushed before the next read
        for band, k in enumerate(self._keys(np.frombuffer(raw, dtype="<u4"))):
            self.entries.buckets[band].put(k, e)


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's finalizer on uint32 values: avalanches before the affine permutations."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


class MinHashDedup(DedupOp):
    """Near-duplicate text removal: MinHash over word n-grams, LSH for candidates, each candidate
    confirmed by its estimated Jaccard >= `threshold`.

    A word hashes once (CRC-32 of its UTF-8); an n-gram's hash is a fixed odd-weighted sum of its
    words' hashes (top 32 bits), vectorised over the document; n-gram hashes are then permuted by
    datasketch's affine32 scheme (its seeded parameters) and the minimum kept per permutation."""

    def __init__(self, num_perm: int = 256, threshold: float = 0.8, ngram: int = 5, seed: int = 1,
                 candidate_recall: float = 0.99, bands: int | None = None, rows: int | None = None, **kw):
        kw.setdefault("keep", "priority")
        super().__init__(**kw)
        self.num_perm, self.threshold, self.ngram, self.seed = num_perm, threshold, ngram, seed
        if not 0.0 < candidate_recall < 1.0 or not 0.0 < threshold <= 1.0:
            raise ValueError(f"curation op {self.name}: candidate_recall must be in (0, 1) and threshold in (0, 1]")
        if (bands is None) != (rows is None):
            raise ValueError(f"curation op {self.name}: set both bands and rows, or neither")
        if bands is None:
            bands, rows = lsh_split(threshold, num_perm, candidate_recall)
        if bands * rows > num_perm:
            raise ValueError(f"curation op {self.name}: bands * rows = {bands * rows} exceeds num_perm {num_perm}")
        self.bands, self.rows = bands, rows
        a, b = MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME).permutations
        self._a, self._b = a.astype(np.uint32), b.astype(np.uint32)
        self._weights = np.random.default_rng(seed).integers(0, 1 << 63, ngram, dtype=np.uint64) * 2 + 1

    def shingle_hashes(self, words: list[str]) -> np.ndarray:
        """The distinct 32-bit hashes of the document's word n-grams (the whole text when shorter)."""
        w = np.fromiter(map(zlib.crc32, map(str.encode, words)), dtype=np.uint64, count=len(words))
        n = min(self.ngram, len(w))
        m = len(w) - n + 1
        h = w[:m] * self._weights[0]
        for k in range(1, n):
            h += w[k:k + m] * self._weights[k]
        return np.unique((h >> np.uint64(32)).astype(np.uint32))

    def signature(self, sample: Sample, facts: Facts) -> str | None:
        words = normalized_words(sample_text(sample))
        if not words:
            return None
        h = self.shingle_hashes(words)
        stats(sample)["shingles"] = len(h)
        values = (fmix32(h)[:, None] * self._a + self._b).min(axis=0)
        return base64.b64encode(values.astype("<u4").tobytes()).decode()

    def new_table(self) -> Table:
        return MinHashTable(self)

    def describe(self) -> str:
        """The expected S-curve, for the curation summary: P(candidate), then P(removed) once the
        estimate (a binomial count over num_perm values) must reach the threshold."""
        from scipy.stats import binom

        need = math.ceil(self.threshold * self.num_perm - 1e-9)
        points = [(j, p_candidate(j, self.bands, self.rows), binom.sf(need - 1, self.num_perm, j))
                  for j in (0.5, 0.7, self.threshold, 0.85, 0.9, 0.95)]
        curve = ", ".join(f"{j:.2f}: {pc:.3f}/{pc * pv:.3f}" for j, pc, pv in points)
        return (f"{self.name}: LSH {self.bands} bands x {self.rows} rows of {self.num_perm}, candidates "
                f"verified at estimated Jaccard >= {self.threshold}; Jaccard -> P(candidate)/P(removed): {curve}")


# -- exact dedup ---------------------------------------------------------------------------------------
class DictTable(Table):
    def __init__(self):
        self.entries = Entries(1)
        self.hashes = array("Q")

    def find(self, sig: str, accept) -> Hit | None:
        h = int(sig, 16)
        for e in self.entries.get(0, h):
            if self.hashes[e] == h and accept(self.entries.source(e)):
                return self.entries.id(e), self.entries.source(e), {"hash": sig}
        return None

    def add(self, sig: str, source: str, sid: str) -> None:
        h = int(sig, 16)
        self.entries.put(0, h, self.entries.new(sid, source))
        self.hashes.append(h)


class ExactDedup(DedupOp):
    """Exact duplicates: the same normalised text and the same image bytes."""

    def signature(self, sample: Sample, facts: Facts) -> str:
        h = hashlib.sha1(" ".join(normalized_words(sample_text(sample))).encode())
        for img in sample.images:
            h.update(hashlib.sha1(img).digest())
        sig = h.hexdigest()[:16]  # 64 bits
        stats(sample)["exact_hash"] = sig
        return sig

    def new_table(self) -> Table:
        return DictTable()
