"""MMLU, the nine medical subjects (~1,871 test questions). The original release
(`data/<split>/<subject>_<split>.csv`, no header: question, A, B, C, D, answer letter) or the
Hugging Face folder (`<subject>/<split>-*.parquet`: `question`, `choices`, `answer` index)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from lingshu.data.sources.records import read_parquet
from lingshu.datasets.base import LINGSHU, Benchmark, BenchmarkPathError, Facts
from lingshu.schema import LETTERS, BenchmarkItem

FACTS = (Facts("mmlu_med", "MMLU-Med", {"test": 1871}, "text", {LINGSHU: 74.5}),)
SUBJECTS = ("anatomy", "clinical_knowledge", "college_biology", "college_medicine", "high_school_biology",
            "medical_genetics", "nutrition", "professional_medicine", "virology")


class MMLUMed(Benchmark):
    name = "mmlu_med"
    example_path = "/data/mmlu"
    facts = FACTS[0]

    def __init__(self, path: str | None = None, split: str | None = None, subjects: list[str] | None = None,
                 max_images: int | None = None):
        super().__init__(path, split, max_images)
        self.subjects = tuple(subjects or SUBJECTS)

    def _files(self, subject: str) -> list[Path]:
        if self.path.is_file():
            return [self.path] if subject in self.path.name else []
        for pattern in (f"**/{subject}_{self.split}.csv", f"{subject}/{self.split}-*.parquet",
                        f"**/{subject}/{self.split}-*.parquet"):
            hits = sorted(self.path.glob(pattern))
            if hits:
                return hits
        raise BenchmarkPathError(f"benchmark {self.name}: no {subject}_{self.split}.csv or {subject}/{self.split}-*.parquet "
                                 f"under {self.path}; set benchmark.{self.name}.path={self.example_path}")

    def load(self) -> Iterator[BenchmarkItem]:
        for subject in self.subjects:
            row = 0
            for f in self._files(subject):
                for question, options, letter in self._rows(f):
                    yield BenchmarkItem(id=f"{self.name}-{self.split}-{subject}-{row}", benchmark=self.name,
                                        question=question, answer=letter, answer_type="mcq", options=options,
                                        categories={"subject": subject, "language": "en"})
                    row += 1

    @staticmethod
    def _rows(f: Path) -> Iterator[tuple[str, list[str], str]]:
        if f.suffix == ".parquet":
            for _, rec in read_parquet(f):
                yield str(rec["question"]).strip(), [str(c).strip() for c in rec["choices"]], LETTERS[int(rec["answer"])]
        else:
            with f.open(encoding="utf-8", newline="") as fh:
                for cols in csv.reader(fh):
                    yield cols[0].strip(), [c.strip() for c in cols[1:-1]], cols[-1].strip().upper()
