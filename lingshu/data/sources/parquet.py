"""Hugging Face datasets stored as parquet (`data/<split>-00000-of-0000N.parquet`, or `to_parquet`)
with an image column (`{"bytes", "path"}` struct, a list of them, a path, or raw bytes) and
config-mapped columns: VQA-RAD, PathVQA, SLAKE, MMMU and most hub copies."""

from __future__ import annotations

from typing import Any, Iterator

import pyarrow.parquet as pq

from lingshu.data.sources.base import Row, Source, SourceError, chat, data_files, get, get_text, qa_sample, yes_no_kind
from lingshu.data.sources.captions import CAPTION_PROMPT
from lingshu.schema import LETTERS, Sample


class ParquetSource(Source):
    default_name = "parquet"

    def __init__(self, path: Any = None, image_column: str | None = "image", question_column: str | None = "question",
                 answer_column: str | None = "answer", caption_column: str | None = None,
                 options_column: str | None = None, id_column: str | None = None, answer_type: str | None = "auto", prompt: str = CAPTION_PROMPT,
                 batch_rows: int = 256, **kw):
        super().__init__(path, **kw)
        self.image_column, self.question_column, self.answer_column = image_column, question_column, answer_column
        self.caption_column, self.options_column = caption_column, options_column
        self.id_column = id_column
        self.answer_type, self.prompt, self.batch_rows = answer_type, prompt, batch_rows
        self.files = data_files(self.name, self.path, (".parquet",), None if self.path.is_file() else self.split)

    def rows(self) -> Iterator[Row]:
        return (row for _, row in self.partition_rows(0, 1))

    def partition_rows(self, partition: int, num_partitions: int) -> Iterator[tuple[int, Row]]:
        """Partitions take whole row groups (the i-th group of the source goes to partition
        i % N), so a partition never reads another's images; row groups stream in batches."""
        index = group = 0
        for file in self.files:
            pf, line = pq.ParquetFile(file), 0
            self.check_columns(file, pf.schema_arrow.names)
            for g in range(pf.num_row_groups):
                n = pf.metadata.row_group(g).num_rows
                if group % num_partitions == partition:
                    i = 0
                    for batch in pf.iter_batches(batch_size=self.batch_rows, row_groups=[g]):
                        for rec in batch.to_pylist():
                            rid = rec.get(self.id_column) if self.id_column else None
                            yield index + i, Row(str(file), line + i, rec, None if rid is None else str(rid))
                            i += 1
                index, line, group = index + n, line + n, group + 1

    def check_columns(self, file: Any, names: list[str]) -> None:
        """A configured column the file lacks is an error, never a silent text-only sample."""
        knobs = {"image_column": self.image_column, "id_column": self.id_column, "options_column": self.options_column,
                 **({"caption_column": self.caption_column} if self.caption_column else
                    {"question_column": self.question_column, "answer_column": self.answer_column})}
        for knob, column in knobs.items():
            if column and column not in names:
                raise ValueError(f"source {self.name}: {file} row 0: no column {column!r} (columns: {', '.join(names)}); "
                                 f"set source.{self.name}.{knob}=<column> (or null if the data has none)")

    def images(self, value: Any) -> list[bytes]:
        if value is None:
            return []
        if isinstance(value, list):
            return [b for v in value for b in self.images(v)]
        if isinstance(value, (bytes, bytearray)) or (isinstance(value, dict) and value.get("bytes")):
            return [self.inline_image(value, self.image_column)]
        if isinstance(value, dict):
            if value.get("path"):
                return [self.image_bytes(value["path"], self.image_column)]
            raise SourceError("image struct has neither bytes nor path", self.image_column)
        return [self.image_bytes(str(value), self.image_column)]

    def to_samples(self, row: Row) -> list[Sample]:
        rec = row.data
        images = self.images(rec.get(self.image_column)) if self.image_column else []
        sid, meta = self.sample_id(row), self.provenance(row)
        if self.caption_column:
            return [Sample(id=sid, source=self.name, kind="caption", images=images, meta=meta,
                           messages=chat(self.prompt, get_text(rec, self.caption_column), len(images)))]
        question = get_text(rec, self.question_column)
        answer = get_text(rec, self.answer_column)
        meta["question"] = question
        if self.options_column:
            options = [str(o) for o in get(rec, self.options_column)]
            if answer not in LETTERS[: len(options)]:
                if answer not in options:
                    raise SourceError(f"answer {answer!r} is not an option letter or text", self.answer_column)
                answer = LETTERS[options.index(answer)]
            return [qa_sample(sid, self.name, "mcq", question, answer, "mcq", images, options, meta=meta)]
        atype = self.answer_type
        if atype == "auto":
            atype = yes_no_kind(answer)
        return [qa_sample(sid, self.name, self.sample_kind("vqa" if images else "text"), question, answer, atype,
                          images, meta=meta)]
