"""Labelled imaging for synthesis: class-per-folder trees (`<path>/<label>/<image>`) or a CSV label
table, each optionally with masks (`mask_dir` mirroring the image paths, or a mask column).
Each image becomes an open VQA sample whose answer is its label; the mask path stays in meta."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from lingshu.data.sources.base import Row, Source, SourceError, chat, check_path, get, get_text
from lingshu.data.sources.records import read_csv
from lingshu.data.sources.captions import IMAGE_SUFFIXES
from lingshu.schema import Sample


class LabelledImagesSource(Source):
    default_name = "labelled_images"

    def __init__(self, path: Any = None, labels_file: str | None = None, image_column: str = "image",
                 label_column: str = "label", mask_column: str | None = None, mask_dir: str | None = None,
                 question: str = "What is the finding in this image?", modality: str | None = None, **kw):
        super().__init__(path, **kw)
        self.labels_file = check_path(self.name, self.path / labels_file, "labels_file") if labels_file else None
        self.mask_dir = check_path(self.name, self.path / mask_dir, "mask_dir") if mask_dir else None
        self.image_column, self.label_column, self.mask_column = image_column, label_column, mask_column
        self.question, self.modality = question, modality

    def rows(self) -> Iterator[Row]:
        if self.labels_file:
            for line, rec in read_csv(self.labels_file, self.max_record_bytes):
                yield Row(str(self.labels_file), line, rec)
            return
        files = sorted(p for p in self.path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES
                       and (self.mask_dir is None or self.mask_dir not in p.parents))
        for i, p in enumerate(files):
            rel = p.relative_to(self.path)
            if len(rel.parts) < 2:
                yield Row(str(p), i, SourceError("image is not inside a class folder", "label"))
                continue
            yield Row(str(p), i, {self.image_column: str(rel), self.label_column: rel.parts[0]},
                      str(rel.with_suffix("")).replace("/", "_"))

    def to_samples(self, row: Row) -> list[Sample]:
        rec = row.data
        rel = str(get(rec, self.image_column))
        label = get_text(rec, self.label_column)
        mask = None
        if self.mask_column and rec.get(self.mask_column):
            mask = str(rec[self.mask_column])
        elif self.mask_dir is not None:
            candidates = sorted(self.mask_dir.glob(str(Path(rel).with_suffix(".*"))))
            mask = str(candidates[0]) if candidates else None
        if mask is not None and not self.resolve(mask, self.mask_column or "mask", self.path).exists():
            raise SourceError(f"missing mask {self.path / mask}", self.mask_column or "mask")
        return [Sample(id=self.sample_id(row), source=self.name, kind="vqa", images=[self.image_bytes(rel, self.image_column)],
                       messages=chat(self.question, label, 1), answer=label, answer_type="open",
                       modality=self.modality, meta=self.provenance(row, label=label, image=rel, mask=mask))]
