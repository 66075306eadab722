"""MedQA-USMLE, 4 options (1,273). The release JSONL (`US/4_options/phrases_no_exclude_test.jsonl`:
`question`, `options` {letter: text}, `answer_idx`, `answer`, `meta_info`) or a parquet/JSONL with
the same fields."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from lingshu.evaluation.benchmarks.base import Benchmark, letter_of, read_records
from lingshu.schema import BenchmarkItem


class MedQA(Benchmark):
    name = "medqa"
    example_path = "/data/MedQA"
    expected: ClassVar[dict[str, int]] = {"test": 1273}

    def load(self) -> Iterator[BenchmarkItem]:
        f = self.find(f"**/4_options/phrases_no_exclude_{self.split}.jsonl", f"**/{self.split}.jsonl",
                      f"**/{self.split}-*.parquet")[0]
        for row, rec in enumerate(read_records(f)):
            opts = rec["options"]
            if isinstance(opts, dict):
                options = [str(opts[k]).strip() for k in sorted(opts) if opts[k] is not None]
            else:  # Hugging Face rows store options as [{"key", "value"}]
                options = [str(o["value"]).strip() for o in sorted(opts, key=lambda o: o["key"])]
            answer = letter_of(str(rec.get("answer_idx") or rec["answer"]), options)
            yield BenchmarkItem(id=self.item_id(row), benchmark=self.name, question=str(rec["question"]).strip(),
                                answer=answer, answer_type="mcq", options=options,
                                categories={"step": str(rec.get("meta_info", "")), "language": "en"})
