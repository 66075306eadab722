"""MIMIC-CXR: chest X-ray reports, one module for training and evaluation.

Training reads R2Gen's `annotation.json` ({"train": [{"id", "report", "image_path": [...]}], "val",
"test"}, images under `images/`) or MedEvalKit's layout; evaluation reads MedEvalKit's test JSON
(2,195 studies: a list of {`id`, `image`: [...], `findings`, `impression`}, see
`report_generation`), and a source pointed at that layout reads it through the same parser. As
captions (stage 2) the report (R2Gen) or the findings (MedEvalKit) are the caption.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lingshu.data.sources.base import Row, SourceError, data_files, get_text
from lingshu.data.sources.radiology import R2GenSource
from lingshu.data.sources.records import read_records
from lingshu.datasets.base import LINGSHU, Facts
from lingshu.datasets.report_generation import ReportBenchmark, parse
from lingshu.schema import Sample

FACTS = (Facts("mimic_cxr", "MIMIC-CXR", {"test": 2195}, "reports", {LINGSHU: (30.8, 109.4, 52.1, 30.0, 69.2)}),)


def is_r2gen(path: Path) -> bool:
    """R2Gen's annotation.json (an object of split -> studies), not MedEvalKit's list of studies."""
    if path.is_dir():
        return (path / "annotation.json").exists()
    with open(path, "rb") as f:
        return f.read(4096).lstrip()[:1] == b"{"


class MIMICCXRSource(R2GenSource):
    default_name = "mimic_cxr"
    files: list[Path] | None = None  # MedEvalKit's layout: its JSON files; None: R2Gen's annotation.json

    def locate(self) -> Path:
        if is_r2gen(self.path):
            return super().locate()
        self.files = data_files(self.name, self.path, (".json",), None if self.path.is_file() else self.split)
        return self.files[0]

    def rows(self) -> Iterator[Row]:
        if self.files is None:
            yield from super().rows()
            return
        for file in self.files:
            for line, rec in read_records(file, self.max_record_bytes):
                yield Row(str(file), line, rec, str(rec.get("id")) if isinstance(rec, dict) and "id" in rec else None)

    def to_samples(self, row: Row) -> list[Sample]:
        if self.files is None:
            return super().to_samples(row)
        f = parse(row.data)
        if f is None:
            raise SourceError("neither findings nor impression", "findings")
        report = get_text(row.data, "findings") if self.kind == "caption" else f.answer
        return [self.report_sample(row, report, f.images, "image")]


class MIMICCXR(ReportBenchmark):
    name = "mimic_cxr"
    facts = FACTS[0]
    example_path = "/data/mimic_cxr"
