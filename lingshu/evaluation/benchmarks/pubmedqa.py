"""PubMedQA labelled test set (500): yes/no/maybe with the abstract as context. The release
`test_set.json` ({pmid: {`QUESTION`, `CONTEXTS`, `final_decision`, ...}}), or `ori_pqal.json`
restricted to the ids of `test_ground_truth.json`, or the Hugging Face parquet (`pubid`,
`question`, `context` {`contexts`}, `final_decision`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from lingshu.evaluation.benchmarks.base import Benchmark, read_json, read_parquet
from lingshu.schema import BenchmarkItem

OPTIONS = ["yes", "no", "maybe"]


class PubMedQA(Benchmark):
    name = "pubmedqa"
    example_path = "/data/pubmedqa"
    expected: ClassVar[dict[str, int]] = {"test": 500}

    def load(self) -> Iterator[BenchmarkItem]:
        f = self.find(f"{self.split}_set.json", f"**/{self.split}_set.json", "ori_pqal.json", "**/ori_pqal.json",
                      "**/*.parquet")[0]
        if f.suffix == ".parquet":
            rows = ((str(r["pubid"]), r["question"], r["context"]["contexts"], r["final_decision"]) for r in read_parquet(f))
        else:
            data = read_json(f)
            truth = f.parent / f"{self.split}_ground_truth.json"
            keep = set(read_json(truth)) if f.name == "ori_pqal.json" and truth.exists() else set(data)
            rows = ((pmid, r["QUESTION"], r["CONTEXTS"], r["final_decision"]) for pmid, r in data.items() if pmid in keep)
        for pmid, question, contexts, decision in rows:
            yield BenchmarkItem(id=str(pmid), benchmark=self.name, question=str(question).strip(),
                                context="\n".join(str(c).strip() for c in contexts), options=list(OPTIONS),
                                answer="ABC"[OPTIONS.index(str(decision).strip().lower())], answer_type="mcq",
                                categories={"language": "en"})
