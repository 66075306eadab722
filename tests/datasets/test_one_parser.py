"""Each dataset that is both a training source and a benchmark parses a row once: the source and
the benchmark read the same fixture (the published format) into the same question, answer, answer
type, options and context, and a row that does not parse is named the same way by both."""

import csv
import json

import pytest

from lingshu.data.sources.base import Quarantine
from lingshu.datasets.base import BenchmarkRowError
from lingshu.datasets.medmcqa import MedMCQA, MedMCQASource
from lingshu.datasets.medqa import MedQA, MedQASource
from lingshu.datasets.mimic_cxr import MIMICCXR, MIMICCXRSource
from lingshu.datasets.path_vqa import PathVQA, PathVQASource
from lingshu.datasets.pmc_vqa import PMCVQA, PMCVQASource
from lingshu.datasets.pubmedqa import PubMedQA, PubMedQASource
from lingshu.datasets.slake import SLAKE, SLAKESource
from lingshu.datasets.vqa_rad import VQARAD, VQARADSource
from tests.evaluation.test_loaders import jsonl, parquet, png, put  # the golden loader tests' writers


def vqa_rad(root):
    base = {"image_name": "synpic1.jpg", "image_organ": "HEAD", "question_type": "PRES", "phrase_type": "test_freeform"}
    put(root / "VQA_RAD Dataset Public.json", json.dumps([
        dict(base, qid=1, question="Is there a bleed?", answer="Yes", answer_type="CLOSED"),
        dict(base, qid=2, question="Left or right?", answer="Left", answer_type="closed "),
        dict(base, qid=3, question="How many lesions?", answer=3, answer_type="OPEN")]))
    put(root / "VQA_RAD Image Folder" / "synpic1.jpg", png(1))
    return VQARADSource(path=root, split="test"), VQARAD(str(root))


def hub_parquet(root, rows):
    """A hub copy's test split: parquet of (image struct, question, answer), without answer types."""
    parquet(root / "data" / "test-00000-of-00001.parquet",
            [{"image": {"bytes": png(shade), "path": None}, "question": q, "answer": a} for shade, q, a in rows])


def vqa_rad_hub(root):
    hub_parquet(root, [(6, "is there a bleed?", "yes"), (7, "how many lesions?", "3")])
    return VQARADSource(path=root, split="test"), VQARAD(str(root))


def slake(root):
    base = {"img_id": 1, "img_name": "xmlab1/source.jpg", "modality": "CT", "content_type": "Organ", "location": "Lung"}
    put(root / "test.json", json.dumps([
        dict(base, qid=11, question="Is the lung healthy?", answer="No", answer_type="CLOSED", q_lang="en"),
        dict(base, qid=12, question="这是什么模态？", answer="CT", answer_type="OPEN", q_lang="zh")], ensure_ascii=False))
    for split in ("train", "validate"):
        put(root / f"{split}.json", "[]")
    put(root / "imgs" / "xmlab1" / "source.jpg", png(2))
    return SLAKESource(path=root, split="test"), SLAKE(str(root))


def path_vqa(root):
    hub_parquet(root, [(3, "is this tissue necrotic?", "no"), (4, "what stain is used?", "h&e")])
    return PathVQASource(path=root, split="test"), PathVQA(str(root))


def pmc_vqa(root):
    put(root / "figures" / "PMC1_F2.jpg", png(5))
    with (root / "test_2.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, ["index", "Figure_path", "Caption", "Question", "Choice A", "Choice B", "Choice C",
                                "Choice D", "Answer", "split"])
        w.writeheader()
        w.writerow({"index": "17", "Figure_path": "PMC1_F2.jpg", "Caption": "Fig 2.", "Question": "Which modality?",
                    "Choice A": "A: X-ray", "Choice B": "B: CT", "Choice C": "C: MRI", "Choice D": "D: US",
                    "Answer": "C", "split": "test"})
        w.writerow({"index": "18", "Figure_path": "PMC1_F2.jpg", "Caption": "", "Question": "Which plane?",
                    "Choice A": "A:axial", "Choice B": "B:coronal", "Choice C": "C:sagittal", "Choice D": "",
                    "Answer": "B:coronal", "split": "test"})
    return PMCVQASource(path=root, split="test"), PMCVQA(str(root))


def medqa(root):
    row = {"question": "A 30-year-old...", "answer": "Drug C", "meta_info": "step1", "answer_idx": "C",
           "options": {"A": "Drug A", "B": "Drug B", "C": "Drug C", "D": "Drug D"}}
    f = put(root / "US" / "4_options" / "phrases_no_exclude_test.jsonl",
            jsonl([row, dict(row, answer_idx="A", question="Next?")]))
    return MedQASource(path=f), MedQA(str(root))


def medmcqa(root):
    row = {"id": "abc", "question": "Which vitamin?", "opa": "A1", "opb": "B1", "opc": "C1", "opd": "D1", "cop": 2,
           "subject_name": "Biochemistry", "topic_name": None, "exp": ""}
    f = put(root / "dev.json", jsonl([row, dict(row, id="abd", cop=4, opd="")]))
    return MedMCQASource(path=f), MedMCQA(str(root), split="validation")


def pubmedqa(root):
    rec = {"QUESTION": "Does X help?", "CONTEXTS": ["Background.", "Results."], "final_decision": "maybe",
           "LONG_ANSWER": "...", "YEAR": "2001"}
    f = put(root / "test_set.json", json.dumps({"12345": rec, "678": dict(rec, final_decision="No")}))
    return PubMedQASource(path=f), PubMedQA(str(root))


def mimic_cxr(root):
    put(root / "test.json", json.dumps([
        {"id": "s1", "image": ["p1/a.png", "p1/b.png"], "findings": "Clear lungs.", "impression": "Normal."},
        {"id": "s3", "image": ["p1/a.png"], "findings": "", "impression": "No acute disease."}]))
    put(root / "images" / "p1" / "a.png", png(6))
    put(root / "images" / "p1" / "b.png", png(7))
    return MIMICCXRSource(path=root, split="test", kind="instruction"), MIMICCXR(str(root))


DATASETS = [vqa_rad, vqa_rad_hub, slake, path_vqa, pmc_vqa, medqa, medmcqa, pubmedqa, mimic_cxr]


def fields_of_sample(s):
    question = "" if s.answer_type == "report" else s.question  # a report's question is the prompt
    return question, s.answer, s.answer_type, s.options, s.context, s.images


def fields_of_item(it):
    return it.question, it.answer, it.answer_type, it.options, it.context, it.images


@pytest.mark.parametrize("make", DATASETS, ids=[f.__name__ for f in DATASETS])
def test_source_and_benchmark_read_a_row_the_same(make, tmp_path):
    source, benchmark = make(tmp_path)
    samples = list(source)
    assert not [s for s in samples if isinstance(s, Quarantine)], samples
    items = list(benchmark.load())
    assert len(items) == len(samples) >= 2
    assert [fields_of_sample(s) for s in samples] == [fields_of_item(i) for i in items]


@pytest.mark.parametrize("make, file", [(vqa_rad, "VQA_RAD Dataset Public.json"), (slake, "test.json")],
                         ids=["vqa_rad", "slake"])
def test_an_unknown_answer_type_is_the_same_error_on_both_sides(make, file, tmp_path):
    source, benchmark = make(tmp_path)  # both read at iteration, after the edit below
    f = tmp_path / file
    rows = json.loads(f.read_text(encoding="utf-8"))
    rows[1]["answer_type"] = "BOTH"
    f.write_text(json.dumps(rows), encoding="utf-8")
    bad = [r for r in source if isinstance(r, Quarantine)]
    assert [(b.row, b.field, b.reason) for b in bad] == [(1, "answer_type", "answer_type 'BOTH' is not CLOSED or OPEN")]
    with pytest.raises(BenchmarkRowError) as e:
        list(benchmark.load())
    assert str(e.value) == f"benchmark {benchmark.name}: {f} row 1: field 'answer_type': answer_type 'BOTH' is not CLOSED or OPEN"
