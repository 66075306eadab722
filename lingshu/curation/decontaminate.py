"""Drop training samples that overlap evaluation data: an image whose pHash matches a benchmark
image, or a question sharing a normalised word n-gram (13 by default) with a benchmark question.

Benchmarks come as config nodes (`cfg.benchmark.<name>`, instantiated here) or objects with
`.load()` -> BenchmarkItems; held-out sources (any `Source`) work the same way, so contamination
can be checked before the benchmark loaders exist.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from lingshu.curation.dedup import HammingTable, normalized_words
from lingshu.curation.ops import Facts, Op, Verdict, phash_bytes, phashes, stats
from lingshu.data.sources.base import Quarantine
from lingshu.schema import Sample


def _instantiate(node: Any) -> Any:
    from omegaconf import DictConfig

    if isinstance(node, (DictConfig, dict)) and "_target_" in node:
        from hydra.utils import instantiate

        return instantiate(node)
    return node


def _items(obj: Any) -> Iterable[tuple[str, list[bytes], str]]:
    """(id, images, question) from a benchmark loader, a Source, or an iterable of either record."""
    records = obj.load() if hasattr(obj, "load") else obj
    for r in records:
        if isinstance(r, Quarantine):
            continue
        question = r.meta.get("question") if isinstance(r, Sample) else None  # raw, without the template
        yield str(r.id), list(r.images), question or r.question or ""


class Decontaminate(Op):
    def __init__(self, benchmarks: Mapping[str, Any] | Iterable[Any] | None = None,
                 held_out: Mapping[str, Any] | Iterable[Any] | None = None, ngram: int = 13,
                 phash_threshold: int = 0, check_images: bool = True, check_questions: bool = True, **kw):
        super().__init__(**kw)
        self.refs = {}
        for group in (benchmarks, held_out):
            if group is None:
                continue
            pairs = group.items() if hasattr(group, "items") else ((str(i), g) for i, g in enumerate(group))
            self.refs.update({str(k): v for k, v in pairs})
        self.ngram, self.threshold = ngram, phash_threshold
        self.check_images, self.check_questions = check_images, check_questions
        self.image_index: HammingTable | None = None
        self.grams: dict[str, str] = {}

    def grams_of(self, text: str) -> list[str]:
        # texts shorter than n words give no n-gram: a short generic question is not a leak
        w = normalized_words(text)
        return [" ".join(w[i:i + self.ngram]) for i in range(len(w) - self.ngram + 1)]

    def setup(self) -> None:
        if self.image_index is not None:
            return
        self.image_index = HammingTable(self.threshold, "image")
        for name, ref in self.refs.items():
            for item_id, imgs, question in _items(_instantiate(ref)):
                ref_id = f"{name}:{item_id}"
                if self.check_images:
                    for b in imgs:
                        try:
                            self.image_index.add([phash_bytes(b)], name, ref_id)
                        except Exception:  # an undecodable benchmark image cannot leak
                            continue
                if self.check_questions:
                    for g in self.grams_of(question):
                        self.grams.setdefault(g, ref_id)

    def __call__(self, sample: Sample, facts: Facts) -> Verdict | None:
        self.setup()
        if not self.refs:  # nothing selected to check against
            return None
        if self.check_images and sample.images:
            hit = self.image_index.find(phashes(sample, facts), lambda s: True)
            if hit is not None:
                stats(sample)["contamination"] = hit[0]
                return Verdict("drop", f"image matches benchmark item {hit[0]}", {"match": hit[0], **hit[2]})
        if self.check_questions:
            # the raw question when the reader kept it: prompt templates shared with benchmarks
            # (MCQ instructions) would otherwise make false 13-gram matches
            texts = [sample.meta["question"]] if sample.meta.get("question") else \
                [m["content"] for m in sample.messages if m["role"] == "user"]
            for text in texts:
                for g in self.grams_of(text):
                    if g in self.grams:
                        stats(sample)["contamination"] = self.grams[g]
                        return Verdict("drop", f"question shares a {self.ngram}-gram with benchmark item "
                                               f"{self.grams[g]}", {"match": self.grams[g], "ngram": g})
        stats(sample)["contamination"] = None
        return None
