"""SuperGPQA, discipline Medicine (2,755; up to 10 options): the release JSONL
(`SuperGPQA-all.jsonl`: `uuid`, `question`, `options` list, `answer`, `answer_letter`,
`discipline`, `field`, `subfield`, `difficulty`) or a parquet with the same fields."""

from __future__ import annotations

from collections.abc import Iterator

from lingshu.datasets.base import LINGSHU, Benchmark, Facts, letter_of
from lingshu.schema import BenchmarkItem

FACTS = (Facts("supergpqa_med", "SuperGPQA-Med", {"test": 2755}, "text", {LINGSHU: 26.3}),)


class SuperGPQAMed(Benchmark):
    name = "supergpqa_med"
    example_path = "/data/SuperGPQA"
    facts = FACTS[0]

    def __init__(self, path: str | None = None, split: str | None = None, discipline: str = "Medicine",
                 max_images: int | None = None):
        super().__init__(path, split, max_images)
        self.discipline = discipline

    def load(self) -> Iterator[BenchmarkItem]:
        f = self.find("**/SuperGPQA-all.jsonl", "**/*.jsonl", "**/*.parquet")[0]
        for row, rec in self.records(f):
            if rec.get("discipline") != self.discipline:
                continue
            options = [str(o).strip() for o in rec["options"]]
            yield BenchmarkItem(id=str(rec["uuid"]), benchmark=self.name, question=str(rec["question"]).strip(),
                                answer=self.parsed(letter_of, f, row, str(rec.get("answer_letter") or rec["answer"]), options),
                                answer_type="mcq", options=options,
                                categories={"field": str(rec.get("field", "")), "difficulty": str(rec.get("difficulty", "")),
                                            "language": "en"})
