"""MedQA (USMLE): text MCQs, one module for training and evaluation.

Release JSONL (`US/4_options/phrases_no_exclude_<split>.jsonl`, 1,273 test questions): `question`,
`options` {letter: text}, `answer_idx`, `answer`, `meta_info`. Hugging Face rows store options as
[{"key", "value"}]. An `answer_idx` that names no option is an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lingshu.data.sources.base import Row, SourceError, get, get_text
from lingshu.data.sources.text import RecordsSource
from lingshu.datasets.base import LINGSHU, Benchmark, Facts, Fields, letter_of, qa_item, training_sample
from lingshu.schema import LETTERS, BenchmarkItem, Sample

FACTS = (Facts("medqa", "MedQA", {"test": 1273}, "text", {LINGSHU: 63.3}),)


def parse(rec: Any) -> Fields:
    opts = get(rec, "options")
    if isinstance(opts, list):  # the hub layout
        opts = {str(o.get("key")): o.get("value") for o in opts if isinstance(o, dict)}
    if not isinstance(opts, dict) or not opts:
        raise SourceError("options must be an object of letter -> text", "options")
    letters = sorted(k for k in opts if opts[k] is not None)
    options = [str(opts[k]).strip() for k in letters]
    idx = get_text(rec, "answer_idx", required=False).upper()
    if idx:
        if idx not in letters:
            raise SourceError(f"answer_idx {idx!r} is not one of {letters}", "answer_idx")
        answer = LETTERS[letters.index(idx)]
    else:
        answer = letter_of(get_text(rec, "answer"), options)
    return Fields(get_text(rec, "question"), answer, "mcq", options)


class MedQASource(RecordsSource):
    default_name = "medqa"

    def to_samples(self, row: Row) -> list[Sample]:
        return [training_sample(self, row, parse(row.data), [], "mcq", meta_info=row.data.get("meta_info"))]


class MedQA(Benchmark):
    name = "medqa"
    facts = FACTS[0]
    example_path = "/data/MedQA"

    def load(self) -> Iterator[BenchmarkItem]:
        path = self.find(f"**/4_options/phrases_no_exclude_{self.split}.jsonl", f"**/{self.split}.jsonl",
                         f"**/{self.split}-*.parquet")[0]
        for row, rec in self.records(path):
            yield qa_item(self, self.item_id(row), self.parsed(parse, path, row, rec), [],
                          categories={"step": str(rec.get("meta_info", "")), "language": "en"})
