"""MedMCQA: text MCQs, one module for training and evaluation.

Release (JSON Lines, even as `.json`: `train.json`, `dev.json` = validation with 4,183 questions,
`test.json` without answers): `id`, `question`, `opa`..`opd`, `cop` counted from 1, `exp`,
`subject_name`, `topic_name`. The Hugging Face parquet has the same columns with `cop` counted
from 0. A `cop` that names no option is an error (the test split has none); an empty option text
is kept in its place.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lingshu.data.sources.base import Row, SourceError, get, get_text
from lingshu.data.sources.text import RecordsSource
from lingshu.datasets.base import LINGSHU, Benchmark, Facts, Fields, option_text, qa_item, training_sample
from lingshu.schema import LETTERS, BenchmarkItem, Sample

FACTS = (Facts("medmcqa", "MedMCQA", {"validation": 4183}, "text", {LINGSHU: 55.9}),)
RELEASE_NAMES = {"validation": "dev", "test": "test", "train": "train"}


def parse(rec: Any, cop_base: int = 1) -> Fields:
    options = [option_text(rec, f"op{x}") for x in "abcd"]
    try:
        cop = int(get(rec, "cop")) - cop_base
    except (TypeError, ValueError):
        raise SourceError(f"cop {rec.get('cop')!r} is not a number", "cop") from None
    if not 0 <= cop < 4:
        raise SourceError(f"cop {rec.get('cop')!r} names no option (test split has no answers)", "cop")
    return Fields(get_text(rec, "question"), LETTERS[cop], "mcq", options)


class MedMCQASource(RecordsSource):
    default_name = "medmcqa"

    def __init__(self, path: Any = None, cop_base: int = 1, **kw):
        super().__init__(path, **kw)
        self.cop_base = cop_base

    def to_samples(self, row: Row) -> list[Sample]:
        rec = row.data
        return [training_sample(self, row, parse(rec, self.cop_base), [], "mcq", subject=rec.get("subject_name"),
                          topic=rec.get("topic_name"), explanation=rec.get("exp"))]


class MedMCQA(Benchmark):
    name = "medmcqa"
    facts = FACTS[0]
    example_path = "/data/medmcqa"
    default_split = "validation"

    def load(self) -> Iterator[BenchmarkItem]:
        release = RELEASE_NAMES.get(self.split, self.split)
        path = self.find(f"{release}.json", f"**/{release}.json", f"**/{self.split}-*.parquet")[0]
        cop_base = 0 if path.suffix == ".parquet" else 1  # the release counts options from 1, Hugging Face from 0
        for row, rec in self.records(path):
            yield qa_item(self, str(rec["id"]), self.parsed(parse, path, row, rec, cop_base), [],
                          categories={"subject": str(rec.get("subject_name") or ""), "language": "en"})
