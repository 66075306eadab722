"""Golden loader tests: tiny files written in each benchmark's published format (exact field names),
loaded through the real loaders."""

import csv
import io
import json
import pickle

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from lingshu.datasets.base import BenchmarkPathError
from lingshu.datasets.medbullets import MedBullets
from lingshu.datasets.medmcqa import MedMCQA
from lingshu.datasets.medqa import MedQA
from lingshu.datasets.medxpertqa import MedXpertQAMM, MedXpertQAText
from lingshu.datasets.mmlu_med import MMLUMed
from lingshu.datasets.mmmu_med import MMMUMed
from lingshu.datasets.omnimedvqa import OmniMedVQA
from lingshu.datasets.path_vqa import PathVQA
from lingshu.datasets.pmc_vqa import PMCVQA
from lingshu.datasets.pubmedqa import PubMedQA
from lingshu.datasets.iu_xray import IUXray
from lingshu.datasets.mimic_cxr import MIMICCXR
from lingshu.datasets.slake import SLAKE
from lingshu.datasets.supergpqa_med import SuperGPQAMed
from lingshu.datasets.vqa_rad import VQARAD
from lingshu.evaluation.metrics import needs_judge, score_prediction
from lingshu.evaluation.prompts import build_prompt


def png(shade=0):
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (shade, shade, shade)).save(buf, "PNG")
    return buf.getvalue()


def put(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data, encoding="utf-8")
    return path


def parquet(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def jsonl(rows):
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def test_vqa_rad_release_json_keeps_only_test_phrases(tmp_path):
    rows = [
        {"qid": 1, "image_name": "synpic1.jpg", "image_organ": "HEAD", "answer": "Yes", "answer_type": "CLOSED",
         "question_type": "PRES", "question": "Is there a bleed?", "phrase_type": "test_freeform"},
        {"qid": 2, "image_name": "synpic1.jpg", "image_organ": "HEAD", "answer": "bleed", "answer_type": "OPEN",
         "question_type": "ABN", "question": "What is abnormal?", "phrase_type": "freeform"},
        {"qid": 3, "image_name": "synpic2.jpg", "image_organ": "CHEST", "answer": "right lung", "answer_type": "OPEN",
         "question_type": "POS", "question": "Where is the mass?", "phrase_type": "test_para"},
    ]
    put(tmp_path / "VQA_RAD Dataset Public.json", json.dumps(rows))
    put(tmp_path / "VQA_RAD Image Folder" / "synpic1.jpg", png(1))
    put(tmp_path / "VQA_RAD Image Folder" / "synpic2.jpg", png(2))
    items = list(VQARAD(str(tmp_path)).load())
    assert [i.id for i in items] == ["1", "3"]
    assert [i.answer_type for i in items] == ["closed", "open"]
    assert items[0].answer == "Yes" and items[0].images == [png(1)]
    assert items[1].categories == {"modality": "chest", "question_type": "pos", "language": "en"}


def test_vqa_rad_closed_non_yes_no_is_open_and_judged_under_medevalkit(tmp_path):
    row = {"qid": 7, "image_name": "synpic1.jpg", "image_organ": "CHEST", "answer": "Left", "answer_type": "CLOSED",
           "question_type": "POS", "question": "Is the mass on the left or right?", "phrase_type": "test_freeform"}
    put(tmp_path / "VQA_RAD Dataset Public.json", json.dumps([row]))
    put(tmp_path / "VQA_RAD Image Folder" / "synpic1.jpg", png(1))
    [it] = list(VQARAD(str(tmp_path)).load())
    assert it.answer_type == "closed" and not needs_judge(it, "strict") and needs_judge(it, "medevalkit")
    assert build_prompt(it, scoring="medevalkit") == ("Is the mass on the left or right?\n"
                                                      "Please answer the question concisely.")


def test_vqa_rad_parquet(tmp_path):
    parquet(tmp_path / "data" / "test-00000-of-00001.parquet", [
        {"image": {"bytes": png(3), "path": None}, "question": "is this a ct?", "answer": "no"},
        {"image": {"bytes": png(4), "path": None}, "question": "which organ?", "answer": "liver"}])
    items = list(VQARAD(str(tmp_path)).load())
    assert [(i.id, i.answer_type) for i in items] == [("vqa_rad-test-0", "closed"), ("vqa_rad-test-1", "open")]
    assert items[1].images == [png(4)]


def test_slake_test_json_both_languages(tmp_path):
    rows = [
        {"img_id": 1, "img_name": "xmlab1/source.jpg", "question": "Is the lung healthy?", "answer": "No",
         "q_lang": "en", "location": "Lung", "modality": "X-Ray", "answer_type": "CLOSED", "base_type": "vqa",
         "content_type": "Abnormality", "triple": ["vhead", "_", "_"], "qid": 11},
        {"img_id": 1, "img_name": "xmlab1/source.jpg", "question": "这是什么模态？", "answer": "X光",
         "q_lang": "zh", "location": "肺", "modality": "X-Ray", "answer_type": "OPEN", "base_type": "vqa",
         "content_type": "Modality", "triple": ["vhead", "_", "_"], "qid": 12},
    ]
    put(tmp_path / "test.json", json.dumps(rows, ensure_ascii=False))
    put(tmp_path / "imgs" / "xmlab1" / "source.jpg", png(5))
    items = list(SLAKE(str(tmp_path)).load())
    assert [(i.id, i.answer_type, i.categories["language"]) for i in items] == [("11", "closed", "en"), ("12", "open", "zh")]
    assert items[1].answer == "X光" and items[0].categories["modality"] == "X-Ray"
    assert [i.id for i in SLAKE(str(tmp_path / "test.json"), languages=["en"]).load()] == ["11"]


def test_path_vqa_parquet_and_release_pickle(tmp_path):
    parquet(tmp_path / "hf" / "test-00000-of-00002.parquet", [
        {"image": {"bytes": png(6), "path": None}, "question": "is this necrosis?", "answer": "yes"},
        {"image": {"bytes": png(7), "path": None}, "question": "what is shown?", "answer": "granuloma"}])
    items = list(PathVQA(str(tmp_path / "hf")).load())
    assert [(i.id, i.answer_type) for i in items] == [("path_vqa-test-0", "closed"), ("path_vqa-test-1", "open")]
    rel = tmp_path / "rel"
    put(rel / "qas" / "test" / "test_qa.pkl", pickle.dumps([{"image": "test_0000", "question": "q?", "answer": "no"}]))
    put(rel / "images" / "test" / "test_0000.jpg", png(8))
    [it] = list(PathVQA(str(rel)).load())
    assert it.images == [png(8)] and it.answer_type == "closed"


def test_pmc_vqa_csv_strips_choice_letters(tmp_path):
    with (tmp_path / "test_2.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["index", "Figure_path", "Caption", "Question", "Choice A", "Choice B", "Choice C", "Choice D",
                    "Answer", "split"])
        w.writerow([0, "PMC1_fig1.jpg", "cap", "What modality?", "A:MRI", " B:CT", "C: X-ray", "D:Ultrasound", "B", "test"])
        w.writerow([1, "PMC2_fig2.jpg", "cap", "Which organ?", "A:Liver", "B:Lung", "C:Heart", "D:Kidney", "C:Heart", "test"])
    put(tmp_path / "figures" / "PMC1_fig1.jpg", png(9))
    put(tmp_path / "images" / "PMC2_fig2.jpg", png(10))
    items = list(PMCVQA(str(tmp_path)).load())
    assert items[0].options == ["MRI", "CT", "X-ray", "Ultrasound"]
    assert [i.answer for i in items] == ["B", "C"] and [i.id for i in items] == ["0", "1"]
    assert items[1].images == [png(10)]


def test_omnimedvqa_open_access(tmp_path):
    rows = [{"dataset": "ACRIMA", "question_id": "ACRIMA_0001", "question_type": "Disease Diagnosis",
             "question": "What is the finding?", "gt_answer": "Glaucoma", "image_path": "Images/ACRIMA/Im001.png",
             "option_A": "Normal", "option_B": "Glaucoma", "option_C": "Cataract", "modality_type": "Fundus Photography"}]
    bad = dict(rows[0], question_id="ACRIMA_0002", gt_answer="Not an option")
    put(tmp_path / "QA_information" / "Open-access" / "ACRIMA.json", json.dumps(rows + [bad]))
    put(tmp_path / "Images" / "ACRIMA" / "Im001.png", png(11))
    it, kept = list(OmniMedVQA(str(tmp_path), split="open_access").load())
    assert it.id == "ACRIMA_0001" and it.options == ["Normal", "Glaucoma", "Cataract"] and it.answer == "B"
    assert it.categories["modality"] == "Fundus Photography" and it.images == [png(11)]
    # MedEvalKit keeps a row whose answer matches no option; no response can be right under strict
    assert kept.id == "ACRIMA_0002" and kept.answer == "Not an option" and kept.answer_letter is None
    for response in ("B", "A", "Not an option", ""):
        assert score_prediction(kept, response)["correct"] is False
    assert score_prediction(kept, "B", scoring="medevalkit")["correct"] is False


def test_mmmu_keeps_every_image_in_order(tmp_path):
    img = lambda s: {"bytes": png(s), "path": None}
    base = {f"image_{k}": None for k in range(1, 8)}
    parquet(tmp_path / "Clinical_Medicine" / "validation-00000-of-00001.parquet", [
        dict(base, id="validation_Clinical_Medicine_1", question="Compare <image 1> and <image 2>.",
             options="['Left', 'Right', 'Both']", explanation="", image_1=img(12), image_2=img(13),
             img_type="['CT']", answer="B", topic_difficulty="Easy", question_type="multiple-choice", subfield="x"),
        dict(base, id="validation_Clinical_Medicine_2", question="Name it <image 1>", options="[]",
             explanation="", image_1=img(14), img_type="['MRI']", answer="glioma", topic_difficulty="Hard",
             question_type="open", subfield="x")])
    items = list(MMMUMed(str(tmp_path)).load())
    assert items[0].images == [png(12), png(13)] and items[0].options == ["Left", "Right", "Both"]
    assert items[0].answer == "B" and items[0].categories["subject"] == "Clinical_Medicine"
    assert items[1].answer_type == "open" and items[1].answer == "glioma"
    assert MMMUMed(str(tmp_path)).max_images == 6


def test_medxpertqa_mm_and_text(tmp_path):
    mm = {"id": "MM-1", "question": "Which finding?\nAnswer Choices: (A) a (B) b (C) c (D) d (E) e",
          "options": {"A": "a", "B": "b", "C": "c", "D": "d", "E": "e"}, "label": "E",
          "images": ["MM-1-a.jpeg", "MM-1-b.jpeg"], "medical_task": "Diagnosis", "body_system": "Lymphatic",
          "question_type": "Reasoning"}
    text = {"id": "Text-1", "question": "Which drug?\nAnswer Choices: (A) 1 (B) 2",
            "options": {k: str(i) for i, k in enumerate("ABCDEFGHIJ")}, "label": "J", "images": [],
            "medical_task": "Treatment", "body_system": "Other", "question_type": "Understanding"}
    put(tmp_path / "MM" / "test.jsonl", jsonl([mm]))
    put(tmp_path / "Text" / "test.jsonl", jsonl([text]))
    put(tmp_path / "images" / "MM-1-a.jpeg", png(15))
    put(tmp_path / "images" / "MM-1-b.jpeg", png(16))
    [a] = list(MedXpertQAMM(str(tmp_path)).load())
    assert a.question == "Which finding?" and a.answer == "E" and a.images == [png(15), png(16)]
    [b] = list(MedXpertQAText(str(tmp_path)).load())
    assert len(b.options) == 10 and b.answer == "J" and b.images == []


def test_mmlu_release_csv_and_parquet(tmp_path):
    # MedEvalKit defect: its MMLU-medical loader crashed. Both published forms load here.
    put(tmp_path / "rel" / "data" / "test" / "anatomy_test.csv", 'What is "x"?,a,b,c,d,C\nSecond?,e,f,g,h,A\n')
    items = list(MMLUMed(str(tmp_path / "rel"), subjects=["anatomy"]).load())
    assert [(i.id, i.answer, i.options) for i in items] == [
        ("mmlu_med-test-anatomy-0", "C", ["a", "b", "c", "d"]), ("mmlu_med-test-anatomy-1", "A", ["e", "f", "g", "h"])]
    assert items[0].question == 'What is "x"?'
    parquet(tmp_path / "hf" / "virology" / "test-00000-of-00001.parquet",
            [{"question": "Virus?", "subject": "virology", "choices": ["w", "x", "y", "z"], "answer": 3}])
    [v] = list(MMLUMed(str(tmp_path / "hf"), subjects=["virology"]).load())
    assert v.answer == "D" and v.categories["subject"] == "virology"
    with pytest.raises(BenchmarkPathError, match="nutrition"):
        list(MMLUMed(str(tmp_path / "hf"), subjects=["nutrition"]).load())


def test_pubmedqa_test_set_with_context(tmp_path):
    data = {"12345": {"QUESTION": "Does X help?", "CONTEXTS": ["Background.", "Results."], "LABELS": ["B", "R"],
                      "MESHES": [], "YEAR": "2001", "final_decision": "maybe", "LONG_ANSWER": "..."}}
    put(tmp_path / "test_set.json", json.dumps(data))
    [it] = list(PubMedQA(str(tmp_path)).load())
    assert it.id == "12345" and it.options == ["yes", "no", "maybe"] and it.answer == "C"
    assert it.context == "Background.\nResults."
    ori = tmp_path / "ori"
    put(ori / "ori_pqal.json", json.dumps({**data, "999": dict(data["12345"], final_decision="no")}))
    put(ori / "test_ground_truth.json", json.dumps({"999": "no"}))
    assert [(i.id, i.answer) for i in PubMedQA(str(ori)).load()] == [("999", "B")]


def test_pubmedqa_parquet_releases(tmp_path):
    # openlifescienceai/pubmedqa (MedEvalKit's copy): `data` struct, the option letter as answer
    data = {"Question": "Does X help?", "Context": ["Background.", "Results."], "Correct Answer": "no",
            "Correct Option": "B", "Options": {"A": "yes", "B": "no", "C": "maybe"}}
    parquet(tmp_path / "ol" / "test-00000-of-00001.parquet", [{"id": "21645374", "data": data, "subject_name": ""}])
    [it] = list(PubMedQA(str(tmp_path / "ol")).load())
    assert (it.id, it.answer, it.context, it.options) == ("21645374", "B", "Background.\nResults.", ["yes", "no", "maybe"])
    # qiaojin/PubMedQA pqa_labeled: 1,000 labelled rows, of which the test set is 500
    rows = [{"pubid": 100 + i, "question": f"Q{i}?", "context": {"contexts": ["c"], "labels": ["L"], "meshes": ["m"]},
             "long_answer": "", "final_decision": "yes"} for i in range(501)]
    parquet(tmp_path / "qj" / "pqa_labeled" / "train-00000-of-00001.parquet", rows)
    with pytest.raises(BenchmarkPathError, match="test_ground_truth.json"):
        list(PubMedQA(str(tmp_path / "qj")).load())
    put(tmp_path / "qj" / "pqa_labeled" / "test_ground_truth.json", json.dumps({"100": "yes", "102": "yes"}))
    assert [i.id for i in PubMedQA(str(tmp_path / "qj")).load()] == ["100", "102"]


def test_medmcqa_release_is_one_based_parquet_zero_based(tmp_path):
    row = {"id": "abc", "question": "Q?", "opa": "a", "opb": "b", "opc": "c", "opd": "d", "cop": 2,
           "choice_type": "single", "exp": "", "subject_name": "Anatomy", "topic_name": "x"}
    put(tmp_path / "rel" / "dev.json", jsonl([row]))
    assert next(MedMCQA(str(tmp_path / "rel"), split="validation").load()).answer == "B"
    parquet(tmp_path / "hf" / "validation-00000-of-00001.parquet", [row])
    assert next(MedMCQA(str(tmp_path / "hf"), split="validation").load()).answer == "C"


def test_medqa_four_options(tmp_path):
    row = {"question": "A 30-year-old...", "answer": "Drug C", "options": {"A": "Drug A", "B": "Drug B",
           "C": "Drug C", "D": "Drug D"}, "meta_info": "step1", "answer_idx": "C", "metamap_phrases": []}
    put(tmp_path / "US" / "4_options" / "phrases_no_exclude_test.jsonl", jsonl([row, dict(row, answer_idx="A")]))
    items = list(MedQA(str(tmp_path)).load())
    assert [(i.id, i.answer) for i in items] == [("medqa-test-0", "C"), ("medqa-test-1", "A")]


def test_medbullets_op4_op5(tmp_path):
    for n in (4, 5):
        with (tmp_path / f"medbullets_op{n}.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            cols = ["question"] + [f"op{c}" for c in "abcde"[:n]] + ["answer_idx", "answer", "explanation", "link"]
            w.writerow(cols)
            w.writerow(["Stem?"] + [f"o{k}" for k in range(n)] + ["B", "o1", "why", "url"])
    four = list(MedBullets(str(tmp_path), split="op4").load())
    five = list(MedBullets(str(tmp_path), split="op5").load())
    assert len(four[0].options) == 4 and len(five[0].options) == 5 and five[0].answer == "B"
    assert five[0].id == "medbullets_op5-test-0" and five[0].benchmark == "medbullets_op5"


def test_supergpqa_medicine_only(tmp_path):
    rows = [{"uuid": "u1", "question": "Q1", "options": [f"o{k}" for k in range(10)], "answer": "o9",
             "answer_letter": "J", "discipline": "Medicine", "field": "Clinical Medicine", "subfield": "x",
             "difficulty": "hard", "is_calculation": False},
            {"uuid": "u2", "question": "Q2", "options": ["a", "b"], "answer": "a", "answer_letter": "A",
             "discipline": "Engineering", "field": "x", "subfield": "x", "difficulty": "easy", "is_calculation": False}]
    put(tmp_path / "SuperGPQA-all.jsonl", jsonl(rows))
    [it] = list(SuperGPQAMed(str(tmp_path)).load())
    assert it.id == "u1" and it.answer == "J" and len(it.options) == 10


def test_report_format_drops_empty_studies(tmp_path):
    # MedEvalKit defect: its IU-Xray loader crashed.
    rows = [{"id": "s1", "image": ["p1/a.png", "p1/b.png"], "findings": "Clear lungs.", "impression": "Normal."},
            {"id": "s2", "image": ["p2/a.png"], "findings": "", "impression": ""},
            {"id": "s3", "image": ["p3/a.png"], "findings": None, "impression": "No acute disease."}]
    put(tmp_path / "test.json", json.dumps(rows))
    for p, s in (("p1/a.png", 20), ("p1/b.png", 21), ("p3/a.png", 22)):
        put(tmp_path / "images" / p, png(s))
    items = list(IUXray(str(tmp_path)).load())
    assert [i.id for i in items] == ["s1", "s3"]
    assert items[0].answer == "Findings: Clear lungs. Impression: Normal." and items[0].images == [png(20), png(21)]
    assert items[1].answer == "Findings:  Impression: No acute disease." and items[1].answer_type == "report"


def test_missing_path_names_benchmark_and_fix(tmp_path):
    with pytest.raises(BenchmarkPathError, match=r"benchmark vqa_rad: no path set; add benchmark.vqa_rad.path="):
        VQARAD(None)
    with pytest.raises(BenchmarkPathError) as e:
        MIMICCXR(str(tmp_path / "absent"))
    assert "benchmark mimic_cxr" in str(e.value) and "benchmark.mimic_cxr.path=" in str(e.value)
    assert "\n" not in str(e.value)


def test_missing_image_named(tmp_path):
    put(tmp_path / "test.json", json.dumps([{"img_name": "x.jpg", "question": "q", "answer": "yes",
                                             "answer_type": "CLOSED", "q_lang": "en", "qid": 1}]))
    with pytest.raises(BenchmarkPathError, match="x.jpg"):
        list(SLAKE(str(tmp_path)).load())
