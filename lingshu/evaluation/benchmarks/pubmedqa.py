"""PubMedQA labelled test set (500): yes/no/maybe with the abstract as context. The release
`test_set.json` ({pmid: {`QUESTION`, `CONTEXTS`, `final_decision`, ...}}), or `ori_pqal.json`
restricted to the ids of `test_ground_truth.json`, or a Hugging Face parquet: the test split of
`openlifescienceai/pubmedqa` (MedEvalKit's copy: `data` {`Question`, `Context`, `Options`,
`Correct Option`}), or `qiaojin/PubMedQA` `pqa_labeled` (`pubid`, `question`, `context`
{`contexts`}, `final_decision`; all 1,000 labelled questions, so `test_ground_truth.json` must sit
beside it to pick the 500 test ones)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from lingshu.evaluation.benchmarks.base import Benchmark, BenchmarkPathError, read_json, read_parquet
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
            rows = self._parquet(f)
        else:
            data = read_json(f)
            truth = f.parent / f"{self.split}_ground_truth.json"
            keep = set(read_json(truth)) if f.name == "ori_pqal.json" and truth.exists() else set(data)
            rows = ((pmid, r["QUESTION"], r["CONTEXTS"], r["final_decision"]) for pmid, r in data.items() if pmid in keep)
        for pmid, question, contexts, decision in rows:
            if str(decision).strip() in ("A", "B", "C"):  # openlifescienceai: the option letter
                decision = OPTIONS["ABC".index(str(decision).strip())]
            yield BenchmarkItem(id=str(pmid), benchmark=self.name, question=str(question).strip(),
                                context="\n".join(str(c).strip() for c in contexts), options=list(OPTIONS),
                                answer="ABC"[OPTIONS.index(str(decision).strip().lower())], answer_type="mcq",
                                categories={"language": "en"})

    def _parquet(self, f) -> Iterator[tuple]:
        recs = list(read_parquet(f))
        if recs and "data" in recs[0]:  # openlifescienceai/pubmedqa: one test split of 500
            for i, r in enumerate(recs):
                d = r["data"]
                opts = [str(d["Options"][k]).strip().lower() for k in "ABC"]
                if opts != OPTIONS:
                    raise ValueError(f"{f}: row {i}: field data.Options is {opts}, expected {OPTIONS}")
                yield str(r.get("id", i)), d["Question"], list(d["Context"]), d["Correct Option"]
            return
        truth = f.parent / f"{self.split}_ground_truth.json"
        if len(recs) > self.expected.get(self.split, len(recs)) and not truth.exists():
            raise BenchmarkPathError(f"benchmark {self.name}: {f} holds {len(recs)} labelled questions (pqa_labeled), "
                                     f"not the {self.split} set: put {truth.name} from the PubMedQA release beside it")
        keep = set(read_json(truth)) if truth.exists() else None
        for r in recs:
            if keep is None or str(r["pubid"]) in keep:
                yield str(r["pubid"]), r["question"], r["context"]["contexts"], r["final_decision"]
