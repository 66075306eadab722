"""MedMCQA validation (4,183). The release `dev.json` (JSON lines: `id`, `question`, `opa`..`opd`,
`cop` 1-based, `subject_name`, `topic_name`) or Hugging Face parquet (same columns, `cop` 0-based)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from lingshu.evaluation.benchmarks.base import Benchmark, read_records
from lingshu.schema import LETTERS, BenchmarkItem

RELEASE_NAMES = {"validation": "dev", "test": "test", "train": "train"}


class MedMCQA(Benchmark):
    name = "medmcqa"
    example_path = "/data/medmcqa"
    default_split = "validation"
    expected: ClassVar[dict[str, int]] = {"validation": 4183}

    def load(self) -> Iterator[BenchmarkItem]:
        release = RELEASE_NAMES.get(self.split, self.split)
        f = self.find(f"{release}.json", f"**/{release}.json", f"**/{self.split}-*.parquet")[0]
        base = 0 if f.suffix == ".parquet" else 1  # the release counts options from 1, Hugging Face from 0
        for rec in read_records(f):
            options = [str(rec[k]).strip() for k in ("opa", "opb", "opc", "opd")]
            yield BenchmarkItem(id=str(rec["id"]), benchmark=self.name, question=str(rec["question"]).strip(),
                                answer=LETTERS[int(rec["cop"]) - base], answer_type="mcq", options=options,
                                categories={"subject": str(rec.get("subject_name") or ""), "language": "en"})
