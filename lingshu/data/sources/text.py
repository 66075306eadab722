"""Text-only medical QA.

MedQA JSONL: `question`, `options` {"A": ..., "E": ...}, `answer_idx`, `answer`.
MedMCQA (JSON Lines, even as `.json`): `question`, `opa`..`opd`, `cop` (1-4 in the original
  release; 0-3 in the hub copy: set `cop_base`), `exp`, `subject_name`, `id`.
PubMedQA `ori_pqal.json`: PMID -> `QUESTION`, `CONTEXTS` [..], `final_decision` yes|no|maybe, `LONG_ANSWER`.
Instruction JSONL (Alpaca-style): `instruction`, `input`, `output`.
"""

from __future__ import annotations

from typing import Any, Iterator

from lingshu.data.sources.base import Row, Source, SourceError, chat, data_files, get, get_text, qa_sample
from lingshu.data.sources.records import read_records
from lingshu.schema import LETTERS, Sample


class _RecordsSource(Source):
    id_field = "id"

    def __init__(self, path: Any = None, **kw):
        super().__init__(path, **kw)
        self.files = data_files(self.name, self.path, (".jsonl", ".json"), None if self.path.is_file() else self.split)

    def rows(self) -> Iterator[Row]:
        for file in self.files:
            for line, rec in read_records(file, self.max_record_bytes):
                rid = rec.get(self.id_field) if isinstance(rec, dict) else None
                yield Row(str(file), line, rec, None if rid in (None, "") else str(rid))

    def mcq(self, row: Row, question: str, options: list[str], letter: str, context: str | None = None,
            **meta: Any) -> Sample:
        return qa_sample(self.sample_id(row), self.name, "mcq", question, letter, "mcq", options=options,
                         context=context, meta=self.provenance(row, question=question, **meta))


class MedQASource(_RecordsSource):
    default_name = "medqa"

    def to_samples(self, row: Row) -> list[Sample]:
        rec = row.data
        opts = get(rec, "options")
        if not isinstance(opts, dict) or not opts:
            raise SourceError("options must be an object of letter -> text", "options")
        letters = sorted(opts)
        options = [str(opts[k]).strip() for k in letters]
        idx = get_text(rec, "answer_idx").upper()
        if idx not in letters:
            raise SourceError(f"answer_idx {idx!r} is not one of {letters}", "answer_idx")
        return [self.mcq(row, get_text(rec, "question"), options, LETTERS[letters.index(idx)],
                         meta_info=rec.get("meta_info"))]


class MedMCQASource(_RecordsSource):
    default_name = "medmcqa"

    def __init__(self, path: Any = None, cop_base: int = 1, **kw):
        super().__init__(path, **kw)
        self.cop_base = cop_base

    def to_samples(self, row: Row) -> list[Sample]:
        rec = row.data
        options = [get_text(rec, f"op{x}") for x in "abcd"]
        try:
            cop = int(get(rec, "cop")) - self.cop_base
        except (TypeError, ValueError):
            raise SourceError(f"cop {rec.get('cop')!r} is not a number", "cop") from None
        if not 0 <= cop < 4:
            raise SourceError(f"cop {rec.get('cop')!r} names no option (test split has no answers)", "cop")
        return [self.mcq(row, get_text(rec, "question"), options, LETTERS[cop],
                         subject=rec.get("subject_name"), topic=rec.get("topic_name"), explanation=rec.get("exp"))]


class PubMedQASource(_RecordsSource):
    """Yes/no/maybe questions over their abstract, as 3-option MCQs (the evaluation's format)."""

    default_name = "pubmedqa"
    id_field = "_key"
    OPTIONS = ["yes", "no", "maybe"]

    def to_samples(self, row: Row) -> list[Sample]:
        rec = row.data
        contexts = get(rec, "CONTEXTS")
        context = "\n".join(str(c).strip() for c in contexts) if isinstance(contexts, list) else str(contexts)
        decision = get_text(rec, "final_decision").lower()
        if decision not in self.OPTIONS:
            raise SourceError(f"final_decision {decision!r} is not yes/no/maybe", "final_decision")
        return [self.mcq(row, get_text(rec, "QUESTION"), list(self.OPTIONS),
                         LETTERS[self.OPTIONS.index(decision)], context=context,
                         long_answer=rec.get("LONG_ANSWER"), year=rec.get("YEAR"))]


class InstructionJsonlSource(_RecordsSource):
    default_name = "instruction_jsonl"

    def to_samples(self, row: Row) -> list[Sample]:
        rec = row.data
        prompt = get_text(rec, "instruction")
        extra = get_text(rec, "input", required=False, default="")
        output = get_text(rec, "output")
        return [Sample(id=self.sample_id(row), source=self.name, kind="text",
                       messages=chat(f"{prompt}\n\n{extra}" if extra else prompt, output), answer=output,
                       meta=self.provenance(row))]
