"""SuperGPQA, discipline Medicine (2,755; up to 10 options): the release JSONL
(`SuperGPQA-all.jsonl`: `uuid`, `question`, `options` list, `answer`, `answer_letter`,
`discipline`, `field`, `subfield`, `difficulty`) or a parquet with the same fields."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from lingshu.evaluation.benchmarks.base import Benchmark, letter_of, read_records
from lingshu.schema import BenchmarkItem


class SuperGPQAMed(Benchmark):
    name = "supergpqa_med"
    example_path = "/data/SuperGPQA"
    expected: ClassVar[dict[str, int]] = {"test": 2755}

    def __init__(self, path: str | None = None, split: str | None = None, discipline: str = "Medicine",
                 max_images: int | None = None):
        super().__init__(path, split, max_images)
        self.discipline = discipline

    def load(self) -> Iterator[BenchmarkItem]:
        f = self.find("**/SuperGPQA-all.jsonl", "**/*.jsonl", "**/*.parquet")[0]
        for rec in read_records(f):
            if rec.get("discipline") != self.discipline:
                continue
            options = [str(o).strip() for o in rec["options"]]
            yield BenchmarkItem(id=str(rec["uuid"]), benchmark=self.name, question=str(rec["question"]).strip(),
                                answer=letter_of(str(rec.get("answer_letter") or rec["answer"]), options),
                                answer_type="mcq", options=options,
                                categories={"field": str(rec.get("field", "")), "difficulty": str(rec.get("difficulty", "")),
                                            "language": "en"})
