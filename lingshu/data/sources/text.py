"""Text records: the reader of JSON / JSON Lines record files, and Alpaca-style instruction JSONL
(`instruction`, `input`, `output`). The text QA datasets (MedQA, MedMCQA, PubMedQA) build on
`RecordsSource` in `lingshu.datasets`."""

from __future__ import annotations

from typing import Any, Iterator

from lingshu.data.sources.base import Row, Source, chat, data_files, get_text
from lingshu.data.sources.records import read_records
from lingshu.schema import Sample


class RecordsSource(Source):
    """Records from the JSON / JSON Lines files under `path` (the split's, when it is a folder)."""

    id_field = "id"

    def __init__(self, path: Any = None, **kw):
        super().__init__(path, **kw)
        self.files = data_files(self.name, self.path, (".jsonl", ".json"), None if self.path.is_file() else self.split)

    def rows(self) -> Iterator[Row]:
        for file in self.files:
            for line, rec in read_records(file, self.max_record_bytes):
                rid = rec.get(self.id_field) if isinstance(rec, dict) else None
                yield Row(str(file), line, rec, None if rid in (None, "") else str(rid))


class InstructionJsonlSource(RecordsSource):
    default_name = "instruction_jsonl"

    def to_samples(self, row: Row) -> list[Sample]:
        rec = row.data
        prompt = get_text(rec, "instruction")
        extra = get_text(rec, "input", required=False, default="")
        output = get_text(rec, "output")
        return [Sample(id=self.sample_id(row), source=self.name, kind="text",
                       messages=chat(f"{prompt}\n\n{extra}" if extra else prompt, output), answer=output,
                       meta=self.provenance(row))]
