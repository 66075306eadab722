"""Radiology reports (MIMIC-CXR, IU-Xray, CheXpert Plus).

R2Gen `annotation.json`: `{"train": [{"id", "report", "image_path": [...], "split"}], "val": [...], "test": [...]}`
  with images under `images/` beside it.
MedEvalKit-style report JSON: `[{"id", "image": [...], "findings", "impression"}]`.
A caption source (`kind: caption`) turns each report into a caption (the paper uses MIMIC-CXR
findings as captions).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from lingshu.data.sources.base import Row, Source, SourceError, chat, check_path, data_files, get, get_text
from lingshu.data.sources.records import INVALID_UTF8, read_records
from lingshu.data.sources.conversation import image_list
from lingshu.prompts import REPORT_PROMPT  # train on the request evaluation makes
from lingshu.schema import Sample

SPLITS = {"train": "train", "val": "val", "validation": "val", "validate": "val", "test": "test"}


class _ReportSource(Source):
    def __init__(self, path: Any = None, prompt: str | None = None, **kw):
        super().__init__(path, **kw)
        self.prompt = prompt or REPORT_PROMPT
        if kw.get("image_root") is None and (self.base_dir / "images").is_dir():  # the R2Gen layout
            self.image_root = self.base_dir / "images"

    def report_sample(self, row: Row, report: str, paths: list[str], field: str) -> Sample:
        images = [self.image_bytes(p, field) for p in paths]
        if not images:
            raise SourceError("no images", field)
        kind = self.sample_kind("report")
        return Sample(id=self.sample_id(row), source=self.name, kind=kind, images=images,
                      messages=chat(self.prompt, report, len(images)), answer=None if kind == "caption" else report,
                      answer_type=None if kind == "caption" else "report", modality="chest radiograph",
                      meta=self.provenance(row, images=paths))


class R2GenSource(_ReportSource):
    default_name = "r2gen"

    def __init__(self, path: Any = None, split: str = "train", **kw):
        super().__init__(path, split=split, **kw)
        if split not in SPLITS:
            raise ValueError(f"source {self.name}: split must be one of {sorted(SPLITS)}, got {split!r}")
        self.file = self.locate()

    def locate(self) -> Path:
        """The annotation file: `path` itself, or annotation.json in it."""
        return self.path if self.path.is_file() else check_path(self.name, self.path / "annotation.json")

    def rows(self) -> Iterator[Row]:
        # One JSON object of split lists: read whole. Bytes that are not UTF-8 become surrogates, so
        # the record holding one is quarantined and the others are kept.
        try:
            data = json.loads(self.file.read_bytes().decode("utf-8", "surrogateescape"))
        except json.JSONDecodeError as e:
            raise ValueError(f"source {self.name}: {self.file} is not valid JSON ({e})") from None
        if not isinstance(data, dict):
            raise ValueError(f"source {self.name}: {self.file} is not an object of split -> records")
        for line, rec in enumerate(data.get(SPLITS[self.split]) or []):
            if INVALID_UTF8.search(json.dumps(rec, ensure_ascii=False)):
                rec = SourceError("invalid UTF-8 in this record")
            yield Row(str(self.file), line, rec, str(rec.get("id")) if isinstance(rec, dict) else None)

    def to_samples(self, row: Row) -> list[Sample]:
        report = get_text(row.data, "report")
        return [self.report_sample(row, report, image_list(get(row.data, "image_path")), "image_path")]


class ReportJsonSource(_ReportSource):
    default_name = "report_json"

    def __init__(self, path: Any = None, **kw):
        super().__init__(path, **kw)
        self.files = data_files(self.name, self.path, (".json", ".jsonl"))

    def rows(self) -> Iterator[Row]:
        for file in self.files:
            for line, rec in read_records(file, self.max_record_bytes):
                if self.split and isinstance(rec, dict) and rec.get("split") not in (None, self.split):
                    continue
                yield Row(str(file), line, rec, str(rec.get("id")) if isinstance(rec, dict) and "id" in rec else None)

    def to_samples(self, row: Row) -> list[Sample]:
        rec = row.data
        findings = get_text(rec, "findings", required=False)
        impression = get_text(rec, "impression", required=False)
        if not findings and not impression:
            raise SourceError("neither findings nor impression", "findings")
        if self.kind == "caption":  # a caption is the findings alone (paper, MIMIC-CXR)
            if not findings:
                raise SourceError("no findings to caption with", "findings")
            report = findings
        else:
            report = " ".join(x for x in (f"Findings: {findings}" if findings else "",
                                          f"Impression: {impression}" if impression else "") if x)
        return [self.report_sample(row, report, image_list(get(rec, "image")), "image")]
