"""SLAKE: English and Chinese radiology VQA, one module for training and evaluation.

Release: `train.json` / `validate.json` / `test.json` (qid, img_id, img_name under `imgs/`, question,
answer, q_lang en|zh, answer_type CLOSED/OPEN, content_type, modality, location); the test split has
2,094 questions. Hugging Face copy: parquet with the same columns plus an `image` struct. An
answer_type other than CLOSED/OPEN is an error in both.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lingshu.data.sources.base import Row, Source, check_path, first_existing, get, get_text
from lingshu.data.sources.records import read_records
from lingshu.datasets.base import LINGSHU, QWEN, Benchmark, Facts, Fields, closed_or_open, qa_item, training_sample
from lingshu.schema import BenchmarkItem, Sample

FACTS = (Facts("slake", "SLAKE", {"test": 2094}, "multimodal", {LINGSHU: 83.1, QWEN: 67.2}),)
FILES = {"train": "train.json", "validation": "validate.json", "validate": "validate.json", "val": "validate.json",
         "test": "test.json"}


def parse(rec: Any) -> Fields:
    """A release row (image file `img_name`) or a hub row (an `image` struct beside it)."""
    image = "image" if isinstance(rec, dict) and rec.get("image") is not None else "img_name"
    return Fields(get_text(rec, "question"), get_text(rec, "answer"), closed_or_open(get(rec, "answer_type")),
                  images=[get(rec, image)], image_field=image)


def language(rec: Any) -> str:
    return str(rec.get("q_lang", "en")) if isinstance(rec, dict) else "en"


class SLAKESource(Source):
    default_name = "slake"

    def __init__(self, path: Any = None, split: str = "train", languages: list[str] | None = None, **kw):
        super().__init__(path, split=split, **kw)
        if split not in FILES:
            raise ValueError(f"source {self.name}: split must be one of {sorted(FILES)}, got {split!r}")
        self.file = check_path(self.name, self.path / FILES[split])
        self.languages = set(languages or ("en", "zh"))
        if kw.get("image_root") is None:  # the release layout decides
            self.image_root = first_existing(self.name, self.path, ["imgs"], "SLAKE")

    def rows(self) -> Iterator[Row]:
        for line, rec in read_records(self.file, self.max_record_bytes):
            if language(rec) not in self.languages:
                continue
            yield Row(str(self.file), line, rec, str(rec.get("qid")) if isinstance(rec, dict) else None)

    def sample_id(self, row: Row) -> str:  # qids restart in every split file
        return f"{self.name}-{self.split}-{row.original_id}"

    def to_samples(self, row: Row) -> list[Sample]:
        f, rec = parse(row.data), row.data
        image = self.image_bytes(str(f.images[0]), f.image_field)
        return [training_sample(self, row, f, [image], "vqa", rec.get("modality"), img_id=rec.get("img_id"),
                          img_name=rec.get("img_name"), q_lang=rec.get("q_lang"), location=rec.get("location"),
                          content_type=rec.get("content_type"))]


class SLAKE(Benchmark):
    name = "slake"
    facts = FACTS[0]
    example_path = "/data/SLAKE"

    def __init__(self, path: str | None = None, split: str | None = None, languages: list[str] | None = None,
                 max_images: int | None = None):
        super().__init__(path, split, max_images)
        self.languages = set(languages or ("en", "zh"))

    def load(self) -> Iterator[BenchmarkItem]:
        for path in self.find(f"{self.split}.json", f"**/{self.split}.json", f"**/{self.split}-*.parquet"):
            for row, rec in self.records(path):
                lang = language(rec)
                if lang not in self.languages:
                    continue
                f = self.parsed(parse, path, row, rec)
                yield qa_item(self, str(rec["qid"]), f, self.images(f, "imgs"),
                              categories={"modality": str(rec.get("modality", "")), "language": lang,
                                          "question_type": str(rec.get("content_type", ""))},
                              meta={"answer_type": str(rec.get("answer_type", ""))})  # OPEN/CLOSED picks MedEvalKit's prompt
