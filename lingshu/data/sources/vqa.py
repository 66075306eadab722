"""Medical VQA sets in their original releases.

VQA-RAD: `VQA_RAD Dataset Public.json` (qid, image_name, question, answer, answer_type CLOSED/OPEN,
  phrase_type, question_type, image_organ) with images in `VQA_RAD Image Folder/`; the test
  questions are those whose phrase_type starts with `test`.
SLAKE: `train.json` / `validate.json` / `test.json` (img_id, img_name under `imgs/`, question, answer,
  q_lang en|zh, answer_type, content_type, modality, location, qid).
PMC-VQA: `train_2.csv` / `train.csv` (Figure_path, Question, Answer, Choice A..D, Answer_label) and
  `test_2.csv` / `test.csv` (index, Figure_path, Caption, Question, Choice A..D, Answer = letter,
  split); choices may carry their letter (`A:MRI`); images under `figures/` or `images/`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from lingshu.data.sources.base import Row, Source, SourceError, check_path, get, get_text, qa_sample
from lingshu.data.sources.records import read_csv, read_records
from lingshu.schema import LETTERS, Sample

ANSWER_TYPES = {"CLOSED": "closed", "OPEN": "open"}


def answer_type(value: Any, field: str = "answer_type") -> str:
    t = ANSWER_TYPES.get(str(value).strip().upper())
    if t is None:
        raise SourceError(f"answer_type {value!r} is not CLOSED or OPEN", field)
    return t


def first_existing(name: str, base: Path, candidates: list[str], what: str) -> Path:
    for c in candidates:
        if (base / c).exists():
            return base / c
    raise FileNotFoundError(f"source {name}: none of {candidates} under {base}; "
                            f"fix it with source.{name}.path=<the {what} folder>")


class VQARADSource(Source):
    default_name = "vqa_rad"
    ANNOTATION = "VQA_RAD Dataset Public.json"
    IMAGES = "VQA_RAD Image Folder"

    def __init__(self, path: Any = None, split: str = "train", **kw):
        super().__init__(path, split=split, **kw)
        if split not in ("train", "test"):
            raise ValueError(f"source {self.name}: split must be train or test, got {split!r}")
        base = self.path if self.path.is_dir() else self.path.parent
        self.annotation = self.path if self.path.is_file() else first_existing(self.name, base, [self.ANNOTATION], "VQA-RAD")
        if kw.get("image_root") is None:  # the release layout decides
            self.image_root = first_existing(self.name, base, [self.IMAGES, "images"], "VQA-RAD")

    def rows(self) -> Iterator[Row]:
        for line, rec in read_records(self.annotation, self.max_record_bytes):
            is_test = isinstance(rec, dict) and str(rec.get("phrase_type", "")).startswith("test")
            if is_test == (self.split == "test"):
                yield Row(str(self.annotation), line, rec, str(rec.get("qid")) if isinstance(rec, dict) else None)

    def to_samples(self, row: Row) -> list[Sample]:
        rec = row.data
        image = self.image_bytes(str(get(rec, "image_name")), "image_name")
        answer, question = get_text(rec, "answer"), get_text(rec, "question")
        atype = answer_type(get(rec, "answer_type"))
        meta = self.provenance(row, question=question, image_name=rec.get("image_name"),
                               question_type=rec.get("question_type"), image_organ=rec.get("image_organ"),
                               phrase_type=rec.get("phrase_type"))
        return [qa_sample(self.sample_id(row), self.name, "vqa", question, answer, atype, [image],
                          modality="radiology", meta=meta)]


class SLAKESource(Source):
    default_name = "slake"
    FILES = {"train": "train.json", "validation": "validate.json", "validate": "validate.json",
             "val": "validate.json", "test": "test.json"}

    def __init__(self, path: Any = None, split: str = "train", languages: list[str] | None = None, **kw):
        super().__init__(path, split=split, **kw)
        if split not in self.FILES:
            raise ValueError(f"source {self.name}: split must be one of {sorted(self.FILES)}, got {split!r}")
        self.file = check_path(self.name, self.path / self.FILES[split])
        self.languages = set(languages or ("en", "zh"))
        if kw.get("image_root") is None:  # the release layout decides
            self.image_root = first_existing(self.name, self.path, ["imgs"], "SLAKE")

    def rows(self) -> Iterator[Row]:
        for line, rec in read_records(self.file, self.max_record_bytes):
            if isinstance(rec, dict) and rec.get("q_lang", "en") not in self.languages:
                continue
            yield Row(str(self.file), line, rec, str(rec.get("qid")) if isinstance(rec, dict) else None)

    def sample_id(self, row: Row) -> str:  # qids restart in every split file
        return f"{self.name}-{self.split}-{row.original_id}"

    def to_samples(self, row: Row) -> list[Sample]:
        rec = row.data
        image = self.image_bytes(str(get(rec, "img_name")), "img_name")
        answer, question = get_text(rec, "answer"), get_text(rec, "question")
        atype = answer_type(get(rec, "answer_type"))
        meta = self.provenance(row, question=question, img_id=rec.get("img_id"), img_name=rec.get("img_name"),
                               q_lang=rec.get("q_lang"), location=rec.get("location"),
                               content_type=rec.get("content_type"))
        return [qa_sample(self.sample_id(row), self.name, "vqa", question, answer, atype, [image],
                          modality=rec.get("modality"), meta=meta)]


_LETTER_PREFIX = re.compile(r"^\s*([A-Da-d])\s*[:.：)]\s*")


def strip_letter(choice: str) -> str:
    return _LETTER_PREFIX.sub("", choice, count=1).strip()


class PMCVQASource(Source):
    default_name = "pmc_vqa"
    FILES = {"train": ["train_2.csv", "train.csv"], "test": ["test_2.csv", "test.csv"]}

    def __init__(self, path: Any = None, split: str = "train", file: str | None = None, **kw):
        super().__init__(path, split=split, **kw)
        if self.path.is_file():
            self.file = self.path
        elif file:
            self.file = check_path(self.name, self.path / file, "file")
        else:
            if split not in self.FILES:
                raise ValueError(f"source {self.name}: split must be train or test (or set file=), got {split!r}")
            self.file = first_existing(self.name, self.path, self.FILES[split], "PMC-VQA")
        if kw.get("image_root") is None:  # the release layout decides
            base = self.file.parent
            self.image_root = next((base / d for d in ("figures", "images") if (base / d).is_dir()), base)

    def rows(self) -> Iterator[Row]:
        for line, rec in read_csv(self.file, self.max_record_bytes):
            yield Row(str(self.file), line, rec, rec.get("index") or None)

    def to_samples(self, row: Row) -> list[Sample]:
        rec = row.data
        options = [strip_letter(str(get(rec, f"Choice {x}"))) for x in "ABCD"]
        label = (rec.get("Answer_label") or "").strip()
        answer = get_text(rec, "Answer")
        if label.upper() in LETTERS[:4] and label:
            letter = label.upper()
        elif len(answer) == 1 and answer.upper() in LETTERS[:4]:
            letter = answer.upper()
        elif strip_letter(answer) in options:
            letter = LETTERS[options.index(strip_letter(answer))]
        else:
            raise SourceError(f"answer {answer!r} matches no choice", "Answer_label")
        image = self.image_bytes(str(get(rec, "Figure_path")), "Figure_path")
        question = get_text(rec, "Question")
        return [qa_sample(self.sample_id(row), self.name, "mcq", question, letter, "mcq", [image], options,
                          meta=self.provenance(row, question=question, figure=rec.get("Figure_path"),
                                               caption=rec.get("Caption") or None))]
