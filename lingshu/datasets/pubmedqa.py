"""PubMedQA: yes/no/maybe questions over their abstract, as 3-option MCQs, one module for training
and evaluation.

Release: `ori_pqal.json` (the 1,000 labelled questions: PMID -> `QUESTION`, `CONTEXTS` [..],
`final_decision` yes|no|maybe, `LONG_ANSWER`, `YEAR`), `test_set.json` (the 500 test ones, same
layout) and `test_ground_truth.json` (PMID -> decision). Hugging Face parquet: the test split of
`openlifescienceai/pubmedqa` (MedEvalKit's copy: `data` {`Question`, `Context`, `Options`,
`Correct Option` letter}), or `qiaojin/PubMedQA` `pqa_labeled` (`pubid`, `question`, `context`
{`contexts`}, `final_decision`; all 1,000, so `test_ground_truth.json` must sit beside it to pick
the test ones). A decision other than yes/no/maybe is an error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lingshu.data.sources.base import Row, SourceError, get, get_text
from lingshu.data.sources.text import RecordsSource
from lingshu.datasets.base import LINGSHU, Benchmark, BenchmarkPathError, Facts, Fields, qa_item, training_sample
from lingshu.schema import LETTERS, BenchmarkItem, Sample

FACTS = (Facts("pubmedqa", "PubMedQA", {"test": 500}, "text", {LINGSHU: 76.6}),)
OPTIONS = ["yes", "no", "maybe"]


def parse(rec: Any) -> Fields:
    """A release record (the hub layouts are put in its shape first: `release_record`)."""
    contexts = get(rec, "CONTEXTS")
    context = "\n".join(str(c).strip() for c in contexts) if isinstance(contexts, list) else str(contexts)
    decision = get_text(rec, "final_decision").lower()
    if decision not in OPTIONS:
        raise SourceError(f"final_decision {decision!r} is not yes/no/maybe", "final_decision")
    return Fields(get_text(rec, "QUESTION"), LETTERS[OPTIONS.index(decision)], "mcq", list(OPTIONS), context)


def release_record(rec: dict) -> dict:
    """A hub row in the release layout (`_key` = its PMID)."""
    if "data" in rec:  # openlifescienceai: the option letter as answer
        d = rec["data"]
        opts = [str(d["Options"][k]).strip().lower() for k in "ABC"]
        if opts != OPTIONS:
            raise SourceError(f"data.Options is {opts}, expected {OPTIONS}", "data.Options")
        letter = str(d["Correct Option"]).strip()
        decision = OPTIONS["ABC".index(letter)] if letter in ("A", "B", "C") else letter
        return {"_key": str(rec.get("id")), "QUESTION": d["Question"], "CONTEXTS": list(d["Context"]),
                "final_decision": decision}
    return {"_key": str(rec["pubid"]), "QUESTION": rec["question"], "CONTEXTS": rec["context"]["contexts"],
            "final_decision": rec["final_decision"]}


class PubMedQASource(RecordsSource):
    default_name = "pubmedqa"
    id_field = "_key"

    def to_samples(self, row: Row) -> list[Sample]:
        rec = row.data
        return [training_sample(self, row, parse(rec), [], "mcq", long_answer=rec.get("LONG_ANSWER"), year=rec.get("YEAR"))]


class PubMedQA(Benchmark):
    name = "pubmedqa"
    facts = FACTS[0]
    example_path = "/data/pubmedqa"

    def load(self) -> Iterator[BenchmarkItem]:
        path = self.find(f"{self.split}_set.json", f"**/{self.split}_set.json", "ori_pqal.json", "**/ori_pqal.json",
                         "**/*.parquet")[0]
        truth = path.parent / f"{self.split}_ground_truth.json"
        keep = set(json.loads(truth.read_text(encoding="utf-8"))) if truth.exists() else None
        rows = self.records(path)
        if path.suffix == ".parquet":
            rows = self._hub(path, rows, keep)
        elif path.name != "ori_pqal.json":
            keep = None  # <split>_set.json holds the split itself
        for row, rec in rows:
            if keep is None or str(rec["_key"]) in keep:
                yield qa_item(self, str(rec["_key"]), self.parsed(parse, path, row, rec), [],
                              categories={"language": "en"})

    def _hub(self, path: Path, rows: Iterator[tuple[int, Any]], keep: set | None) -> Iterator[tuple[int, dict]]:
        recs = list(rows)
        labelled = bool(recs) and "data" not in recs[0][1]  # pqa_labeled: all 1,000 labelled questions
        if labelled and keep is None and len(recs) > self.expected.get(self.split, len(recs)):
            raise BenchmarkPathError(f"benchmark {self.name}: {path} holds {len(recs)} labelled questions (pqa_labeled), "
                                     f"not the {self.split} set: put {self.split}_ground_truth.json from the PubMedQA "
                                     f"release beside it")
        for row, rec in recs:
            yield row, self.parsed(release_record, path, row, rec)
