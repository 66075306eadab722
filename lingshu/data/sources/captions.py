"""Image-caption pairs: a JSONL/JSON/CSV/TSV table with configurable columns (PMC-OA, ROCO, ROCOv2,
MedICaT), or a folder of images with sidecar `.txt` captions. Both make caption samples."""

from __future__ import annotations

from typing import Any, Iterator

from lingshu.data.sources.base import Row, Source, SourceError, chat, data_files, get, get_text
from lingshu.data.sources.records import read_records
from lingshu.schema import Sample

CAPTION_PROMPT = "Describe the image briefly."  # the demo corpus asks the same
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")


class CaptionPairsSource(Source):
    default_name = "caption_pairs"

    def __init__(self, path: Any = None, image_column: str = "image", caption_column: str = "caption",
                 id_column: str | None = None, image_suffix: str = "", prompt: str = CAPTION_PROMPT, **kw):
        kw.setdefault("kind", "caption")
        super().__init__(path, **kw)
        self.image_column, self.caption_column, self.id_column = image_column, caption_column, id_column
        self.image_suffix, self.prompt = image_suffix, prompt
        self.files = data_files(self.name, self.path, (".jsonl", ".json", ".csv", ".tsv"),
                                None if self.path.is_file() else self.split)

    def rows(self) -> Iterator[Row]:
        for file in self.files:
            for line, rec in read_records(file, self.max_record_bytes):
                rid = rec.get(self.id_column) if self.id_column and isinstance(rec, dict) else None
                if self.id_column and isinstance(rec, dict) and rid in (None, ""):  # no silent fallback id
                    rec = SourceError(f"missing id field {self.id_column!r}", self.id_column)
                yield Row(str(file), line, rec, None if rid in (None, "") else str(rid))

    def to_samples(self, row: Row) -> list[Sample]:
        caption = get_text(row.data, self.caption_column)
        image = self.image_bytes(str(get(row.data, self.image_column)) + self.image_suffix, self.image_column)
        return [Sample(id=self.sample_id(row), source=self.name, kind="caption", images=[image],
                       messages=chat(self.prompt, caption, 1), meta=self.provenance(row))]


class ImageFolderSource(Source):
    """Every image under `path` (sorted), captioned by the `.txt` file of the same stem beside it."""

    default_name = "image_folder"

    def __init__(self, path: Any = None, caption_suffix: str = ".txt", prompt: str = CAPTION_PROMPT, **kw):
        kw.setdefault("kind", "caption")
        super().__init__(path, **kw)
        self.caption_suffix, self.prompt = caption_suffix, prompt

    def rows(self) -> Iterator[Row]:
        images = sorted(p for p in self.path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        for i, p in enumerate(images):
            rel = p.relative_to(self.path)
            yield Row(str(p), i, rel, str(rel.with_suffix("")).replace("/", "_"))

    def to_samples(self, row: Row) -> list[Sample]:
        image_path = self.path / row.data
        sidecar = image_path.with_suffix(self.caption_suffix)
        if not sidecar.exists():
            raise SourceError(f"no caption file {sidecar}", "caption")
        caption = self.text_file(sidecar, "caption").strip()
        if not caption:
            raise SourceError(f"empty caption file {sidecar}", "caption")
        return [Sample(id=self.sample_id(row), source=self.name, kind="caption",
                       images=[self.image_bytes(str(image_path))], messages=chat(self.prompt, caption, 1),
                       meta=self.provenance(row))]
