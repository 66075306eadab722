"""MedBullets with 4 or 5 options (308 each): `medbullets_op4.csv` / `medbullets_op5.csv`
(`question`, `opa`..`opd`[, `ope`], `answer_idx` letter, `answer`, `explanation`, `link`), or a
parquet with the same columns. `split` names the variant: op4 or op5."""

from __future__ import annotations

from collections.abc import Iterator

from lingshu.datasets.base import LINGSHU, Benchmark, Facts, letter_of
from lingshu.schema import BenchmarkItem

FACTS = (Facts("medbullets_op4", "MedBullets-op4", {"op4": 308}),
         Facts("medbullets_op5", "MedBullets", {"op5": 308}, "text", {LINGSHU: 56.2}))


class MedBullets(Benchmark):
    example_path = "/data/medbullets"

    def __init__(self, path: str | None = None, split: str = "op4", max_images: int | None = None):
        if split not in ("op4", "op5"):
            raise ValueError(f"benchmark medbullets: split must be op4 or op5, got {split!r}")
        self.name = f"medbullets_{split}"
        self.facts = FACTS[("op4", "op5").index(split)]
        super().__init__(path, split, max_images)

    def load(self) -> Iterator[BenchmarkItem]:
        f = self.find(f"**/medbullets_{self.split}.csv", f"**/*{self.split}*.parquet", f"**/*{self.split}*.csv")[0]
        n = int(self.split[-1])
        for row, rec in self.records(f):
            options = [str(rec[f"op{c}"]).strip() for c in "abcde"[:n]]
            yield BenchmarkItem(id=f"{self.name}-test-{row}", benchmark=self.name, question=str(rec["question"]).strip(),
                                answer=self.parsed(letter_of, f, row, str(rec.get("answer_idx") or rec["answer"]), options),
                                answer_type="mcq", options=options, categories={"language": "en"})
