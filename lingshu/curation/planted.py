"""Planted near-duplicate text corpora: measure a near-dup dedup's recall and precision at known
Jaccard values (the tests and perf/ use it).

Each original is a document of random words; its partner is the original after random word edits
(substitute, insert, delete), and the pair's exact word-n-gram Jaccard is computed on the sets and
recorded. Originals share nothing beyond chance, so only planted pairs are near-duplicates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Pair:
    original: str  # document ids
    copy: str
    jaccard: float  # exact, on word n-gram sets


def shingles(words: list[str], n: int) -> set[tuple[str, ...]]:
    n = min(n, len(words))
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: list[str], b: list[str], n: int = 5) -> float:
    sa, sb = shingles(a, n), shingles(b, n)
    return len(sa & sb) / len(sa | sb)


def vocabulary(rng: np.random.Generator, size: int = 20_000) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    return ["".join(rng.choice(letters, size=rng.integers(3, 10))) for _ in range(size)]


def edited(words: list[str], target: float, n: int, vocab: list[str], rng: np.random.Generator) -> list[str]:
    """Random edits, one at a time, until the n-gram Jaccard with `words` falls to `target` or below
    (so the result lands just under it)."""
    out, base = list(words), shingles(words, n)
    while True:
        i, op = int(rng.integers(0, len(out))), rng.integers(0, 3)
        word = vocab[int(rng.integers(0, len(vocab)))]
        if op == 0:
            out[i] = word
        elif op == 1:
            out.insert(i, word)
        elif len(out) > n + 1:
            del out[i]
        s = shingles(out, n)
        if len(base & s) / len(base | s) <= target:
            return out


def planted_corpus(n_dups: int, n_decoys: int, dup_range=(0.85, 0.99), decoy_range=(0.2, 0.5),
                   words=(80, 400), n: int = 5, seed: int = 0) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[Pair]]:
    """(originals, copies, pairs): documents as (id, text). Copies of the first `n_dups` originals
    are near-duplicates with Jaccard in `dup_range`; copies of the next `n_decoys` are decoys in
    `decoy_range`."""
    rng = np.random.default_rng(seed)
    vocab = vocabulary(rng)
    originals, copies, pairs = [], [], []
    for k in range(n_dups + n_decoys):
        doc = [vocab[int(j)] for j in rng.integers(0, len(vocab), int(rng.integers(*words)))]
        lo, hi = dup_range if k < n_dups else decoy_range
        copy = edited(doc, float(rng.uniform(lo, hi)), n, vocab, rng)
        while jaccard(doc, copy, n) < lo:  # overshot the range (rare): edit the original again
            copy = edited(doc, float(rng.uniform(lo, hi)), n, vocab, rng)
        originals.append((f"o{k}", " ".join(doc)))
        copies.append((f"c{k}", " ".join(copy)))
        pairs.append(Pair(f"o{k}", f"c{k}", jaccard(doc, copy, n)))
    return originals, copies, pairs


def write_instruction_jsonl(path: Path, docs: list[tuple[str, str]]) -> Path:
    """Alpaca-style rows: the first 12 words as the instruction, the rest as the output (a sample's
    text is exactly the document)."""
    with open(path, "w") as f:
        for doc_id, text in docs:
            words = text.split(" ")
            f.write(json.dumps({"id": doc_id, "instruction": " ".join(words[:12]),
                                "output": " ".join(words[12:])}) + "\n")
    return path
