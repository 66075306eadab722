"""PMC-VQA: MCQs on PubMed Central figures, one module for training and evaluation.

`train_2.csv` / `train.csv` (Figure_path, Question, Answer, Choice A..D, Answer_label) and
`test_2.csv` (v2 test, 33,430: index, Figure_path, Caption, Question, Choice A..D, Answer = letter,
split); images under `figures/` or `images/`. Choices may carry their own letter (`A:MRI`), which
is stripped from the options; the `medevalkit` profile shows and scores the CSV's strings
unchanged, as MedEvalKit does. An empty choice is left out; an answer that names no choice is an
error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from lingshu.data.sources.base import Row, Source, SourceError, check_path, first_existing, get, get_text
from lingshu.data.sources.records import read_records
from lingshu.datasets.base import LINGSHU, QWEN, Benchmark, Facts, Fields, letter_of, qa_item, training_sample
from lingshu.schema import BenchmarkItem, Sample

FACTS = (Facts("pmc_vqa", "PMC-VQA", {"test": 33430}, "multimodal", {LINGSHU: 56.3, QWEN: 51.9}),)
FILES = {"train": ["train_2.csv", "train.csv"], "test": ["test_2.csv", "test.csv"]}
_OWN_LETTER = re.compile(r"^\s*[A-Da-d]\s*[:.：)]\s*")


def strip_letter(choice: str) -> str:
    return _OWN_LETTER.sub("", str(choice), count=1).strip()


def choices(rec: Any) -> list[str]:
    """The choice strings as the CSV writes them (empty ones left out)."""
    if not isinstance(rec, dict):
        raise SourceError(f"record is a {type(rec).__name__}, not an object")
    return [str(rec[f"Choice {c}"]) for c in "ABCD" if str(rec.get(f"Choice {c}") or "").strip()]


def parse(rec: Any) -> Fields:
    options = [strip_letter(c) for c in choices(rec)]
    if len(options) < 2:
        raise SourceError(f"{len(options)} non-empty choices", "Choice A")
    label = str(rec.get("Answer_label") or "").strip()
    answer = label or get_text(rec, "Answer")
    field = "Answer_label" if "Answer_label" in rec else "Answer"
    letter = letter_of(answer if len(answer) == 1 else strip_letter(answer), options, field)
    return Fields(get_text(rec, "Question"), letter, "mcq", options, images=[get(rec, "Figure_path")],
                  image_field="Figure_path")


class PMCVQASource(Source):
    default_name = "pmc_vqa"

    def __init__(self, path: Any = None, split: str = "train", file: str | None = None, **kw):
        super().__init__(path, split=split, **kw)
        if self.path.is_file():
            self.file = self.path
        elif file:
            self.file = check_path(self.name, self.path / file, "file")
        else:
            if split not in FILES:
                raise ValueError(f"source {self.name}: split must be train or test (or set file=), got {split!r}")
            self.file = first_existing(self.name, self.path, FILES[split], "PMC-VQA")
        if kw.get("image_root") is None:  # the release layout decides
            base = self.file.parent
            self.image_root = next((base / d for d in ("figures", "images") if (base / d).is_dir()), base)

    def rows(self) -> Iterator[Row]:
        for line, rec in read_records(self.file, self.max_record_bytes):
            yield Row(str(self.file), line, rec, (rec.get("index") or None) if isinstance(rec, dict) else None)

    def to_samples(self, row: Row) -> list[Sample]:
        f = parse(row.data)
        image = self.image_bytes(str(f.images[0]).strip(), f.image_field)
        return [training_sample(self, row, f, [image], "mcq", figure=row.data.get("Figure_path"),
                          caption=row.data.get("Caption") or None)]


class PMCVQA(Benchmark):
    name = "pmc_vqa"
    facts = FACTS[0]
    example_path = "/data/PMC-VQA"

    def load(self) -> Iterator[BenchmarkItem]:
        path = self.find("test_2.csv", "**/test_2.csv")[0]
        for row, rec in self.records(path):
            f = self.parsed(parse, path, row, rec)
            rid = str(rec.get("index") or "").strip()
            yield qa_item(self, rid or self.item_id(row), f, [self.image(str(f.images[0]).strip(), "figures", "images")],
                          categories={"language": "en"},
                          meta={"caption": rec.get("Caption"), "choices": choices(rec)})  # as the CSV writes them (medevalkit)
