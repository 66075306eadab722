"""Golden tests: small files in each published format (exact field names) -> the Samples read."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lingshu.data.sources.base import Quarantine
from lingshu.data.sources.captions import CaptionPairsSource, ImageFolderSource
from lingshu.data.sources.conversation import LlavaSource, ShareGPTSource
from lingshu.datasets.demo import DemoSource
from lingshu.data.sources.labelled import LabelledImagesSource
from lingshu.data.sources.parquet import ParquetSource
from lingshu.data.sources.radiology import R2GenSource, ReportJsonSource
from lingshu.data.sources.text import InstructionJsonlSource
from lingshu.datasets.medmcqa import MedMCQASource
from lingshu.datasets.medqa import MedQASource
from lingshu.datasets.pubmedqa import PubMedQASource
from lingshu.datasets.pmc_vqa import PMCVQASource
from lingshu.datasets.slake import SLAKESource
from lingshu.datasets.vqa_rad import VQARADSource
from lingshu.data import demo
from lingshu.evaluation.prompts import build_request
from lingshu.prompts import REPORT_PROMPT, render_messages, rendered_question
from lingshu.schema import BenchmarkItem

from source_helpers import image_bytes


def split(records):
    samples = {r.id: r for r in records if not isinstance(r, Quarantine)}
    bad = {r.id: r for r in records if isinstance(r, Quarantine)}
    return samples, bad


def write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_llava_json_single_multi_text_and_bad_records(tmp_path, write_image):
    a = write_image(tmp_path / "images" / "a.jpg", "JPEG")
    b = write_image(tmp_path / "images" / "b.png", shade=50)
    records = [
        {"id": "pmc-1", "image": "images/a.jpg", "modality": "CT",
         "conversations": [{"from": "human", "value": "<image>\nWhat is shown?"}, {"from": "gpt", "value": "A CT."}]},
        {"id": "pmc-2", "image": ["images/a.jpg", "images/b.png"],  # no placeholders: both go first
         "conversations": [{"from": "human", "value": "Compare."}, {"from": "gpt", "value": "Same."},
                           {"from": "human", "value": "Sure?"}, {"from": "gpt", "value": "Yes."}]},
        {"id": "txt", "conversations": [{"from": "human", "value": "Define sepsis."}, {"from": "gpt", "value": "..."}]},
        {"id": "missing", "image": "images/none.png",
         "conversations": [{"from": "human", "value": "<image>\nQ"}, {"from": "gpt", "value": "A"}]},
        {"id": "role", "conversations": [{"from": "doctor", "value": "Q"}, {"from": "gpt", "value": "A"}]},
        {"id": "count", "image": "images/a.jpg",
         "conversations": [{"from": "human", "value": "<image><image> Q"}, {"from": "gpt", "value": "A"}]},
    ]
    (tmp_path / "data.json").write_text(json.dumps(records))
    samples, bad = split(list(LlavaSource(path=tmp_path / "data.json", name="llava_med")))
    s = samples["llava_med-pmc-1"]
    assert s.kind == "vqa" and s.images == [a] and s.answer == "A CT."
    assert s.messages == [{"role": "user", "content": "<image>\nWhat is shown?"}, {"role": "assistant", "content": "A CT."}]
    assert s.modality == "CT" and s.meta["original_id"] == "pmc-1" and s.meta["row"] == 0
    assert s.meta["file"] == str(tmp_path / "data.json")
    m = samples["llava_med-pmc-2"]
    assert m.kind == "dialogue" and m.images == [a, b] and m.messages[0]["content"] == "<image><image>\nCompare."
    assert samples["llava_med-txt"].kind == "text" and samples["llava_med-txt"].images == []
    assert bad["llava_med-missing"].field == "image" and "none.png" in bad["llava_med-missing"].reason
    assert bad["llava_med-missing"].row == 3 and bad["llava_med-missing"].file.endswith("data.json")
    assert bad["llava_med-role"].field == "conversations[0].from"
    assert "2 <image> placeholders for 1 images" in bad["llava_med-count"].reason
    assert len(samples) + len(bad) == len(records)


def test_llava_caption_source_makes_captions(tmp_path, write_image):
    write_image(tmp_path / "x.png")
    (tmp_path / "align.jsonl").write_text(json.dumps(
        {"id": 7, "image": "x.png", "conversations": [{"from": "human", "value": "<image>\nDescribe."},
                                                      {"from": "gpt", "value": "Axial CT of the abdomen."}]}) + "\n")
    (s,) = list(LlavaSource(path=tmp_path / "align.jsonl", kind="caption"))
    assert s.kind == "caption" and s.caption == "Axial CT of the abdomen." and s.id == "llava-7"


def test_sharegpt_messages_parts_and_bad_line(tmp_path, write_image):
    img = write_image(tmp_path / "i.png")
    lines = [
        json.dumps({"messages": [{"role": "system", "content": "You are a radiologist."},
                                 {"role": "user", "content": "<image>Findings?"},
                                 {"role": "assistant", "content": "Normal."}], "images": ["i.png"]}),
        "{not json",
        json.dumps({"messages": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Q"}]},
                                 {"role": "assistant", "content": "A"}], "images": ["i.png"]}),
        json.dumps({"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}),
    ]
    (tmp_path / "chat.jsonl").write_text("\n".join(lines) + "\n")
    samples, bad = split(list(ShareGPTSource(path=tmp_path / "chat.jsonl")))
    assert list(bad) == ["sharegpt-chat-1"] and "invalid JSON" in bad["sharegpt-chat-1"].reason
    s0, s2, s3 = samples["sharegpt-chat-0"], samples["sharegpt-chat-2"], samples["sharegpt-chat-3"]
    assert s0.messages[0]["role"] == "system" and s0.images == [img] and s0.kind == "vqa"
    assert s2.messages[0]["content"] == "<image>\nQ"
    assert s3.kind == "text" and s3.messages[1] == {"role": "assistant", "content": "hello"}


def test_caption_pairs_csv_rocov2_and_jsonl_pmc_oa(tmp_path, write_image):
    roco = write_image(tmp_path / "roco" / "ROCOv2_2023_train_000001.jpg", "JPEG")
    write_csv(tmp_path / "roco" / "train_captions.csv", [
        {"ID": "ROCOv2_2023_train_000001", "Caption": "Chest X-ray showing a right pleural effusion."},
        {"ID": "ROCOv2_2023_train_000002", "Caption": "Missing image."},
        {"ID": "ROCOv2_2023_train_000001", "Caption": ""},
    ])
    src = CaptionPairsSource(path=tmp_path / "roco" / "train_captions.csv", image_column="ID", caption_column="Caption",
                             id_column="ID", image_suffix=".jpg", name="roco")
    records = list(src)
    assert isinstance(records[0], Quarantine) is False and records[0].images == [roco]
    assert records[0].caption == "Chest X-ray showing a right pleural effusion." and records[0].kind == "caption"
    assert records[0].messages[0]["content"] == "<image>\nDescribe the image briefly."
    assert isinstance(records[1], Quarantine) and records[1].field == "ID"
    assert isinstance(records[2], Quarantine) and records[2].field == "Caption"

    pmc = write_image(tmp_path / "pmc" / "images" / "PMC1_F1.jpg", "JPEG")
    (tmp_path / "pmc" / "train.jsonl").write_text(json.dumps({"image": "PMC1_F1.jpg", "caption": "Histology, H&E."}) + "\n")
    (s,) = list(CaptionPairsSource(path=tmp_path / "pmc" / "train.jsonl", image_root=tmp_path / "pmc" / "images"))
    assert s.images == [pmc] and s.caption == "Histology, H&E." and s.id == "caption_pairs-train-0"


def test_image_folder_with_sidecars(tmp_path, write_image):
    a = write_image(tmp_path / "a" / "1.png")
    write_image(tmp_path / "a" / "2.jpg", "JPEG")
    (tmp_path / "a" / "1.txt").write_text("MRI of the knee.\n")
    samples, bad = split(list(ImageFolderSource(path=tmp_path)))
    assert samples["image_folder-a_1"].images == [a] and samples["image_folder-a_1"].caption == "MRI of the knee."
    assert bad["image_folder-a_2"].field == "caption"


def test_parquet_hub_layout_with_image_struct_and_splits(tmp_path, write_image):
    write_image(tmp_path / "ds" / "rel.png")
    img = image_bytes()
    (tmp_path / "ds" / "data").mkdir(parents=True)
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    table = pa.table({
        "image": pa.array([{"bytes": img, "path": "x.png"}, {"bytes": None, "path": "rel.png"},
                           {"bytes": None, "path": None}], type=image_type),
        "question": ["is there a mass?", "what organ is shown?", "q"],
        "answer": ["yes", "liver", "a"],
    })
    pq.write_table(table, tmp_path / "ds" / "data" / "train-00000-of-00001.parquet", row_group_size=2)
    pq.write_table(table.slice(0, 1), tmp_path / "ds" / "data" / "test-00000-of-00001.parquet")
    src = ParquetSource(path=tmp_path / "ds", split="train", name="path_vqa", image_root=tmp_path / "ds")
    samples, bad = split(list(src))
    s0, s1 = samples["path_vqa-train-00000-of-00001-0"], samples["path_vqa-train-00000-of-00001-1"]
    assert s0.images == [img] and s0.answer_type == "closed" and s0.meta["question"] == "is there a mass?"
    assert s0.template == "question" and s0.messages[0]["content"] == "is there a mass?"  # stored bare
    assert render_messages(s0)[0]["content"] == "<image>\nis there a mass?\nPlease output 'yes' or 'no'(no extra output)."
    assert s1.images == [(tmp_path / "ds" / "rel.png").read_bytes()] and s1.answer_type == "open"
    assert list(bad.values())[0].field == "image" and len(samples) == 2
    assert len(list(ParquetSource(path=tmp_path / "ds", split="test"))) == 1
    with pytest.raises(FileNotFoundError, match="split validation"):
        ParquetSource(path=tmp_path / "ds", split="validation")


def test_parquet_caption_and_mcq_columns(tmp_path):
    img = image_bytes()
    pq.write_table(pa.table({"img": [img], "text": ["Fundus photograph."], "q": ["Which?"],
                             "opts": [["CT", "MRI"]], "ans": ["MRI"]}), tmp_path / "t.parquet")
    (c,) = list(ParquetSource(path=tmp_path / "t.parquet", image_column="img", caption_column="text"))
    assert c.kind == "caption" and c.images == [img] and c.caption == "Fundus photograph."
    (m,) = list(ParquetSource(path=tmp_path / "t.parquet", image_column="img", question_column="q",
                              answer_column="ans", options_column="opts"))
    assert m.kind == "mcq" and m.answer == "B" and m.options == ["CT", "MRI"] and "A. CT\nB. MRI" in rendered_question(m)


def vqa_rad_files(root: Path, write_image) -> None:
    write_image(root / "VQA_RAD Image Folder" / "synpic54610.jpg", "JPEG")
    rec = {"qid": 1, "image_name": "synpic54610.jpg", "image_case_url": "https://medpix.nlm.nih.gov/case?id=x",
           "image_organ": "HEAD", "answer": "Yes", "answer_type": "CLOSED", "question_type": "PRES",
           "question": "Are regions of the brain infarcted?", "phrase_type": "freeform"}
    records = [rec, dict(rec, qid=2, answer=3, answer_type="OPEN ", question="How many lesions?", phrase_type="para"),
               dict(rec, qid=3, phrase_type="test_freeform", question="Is this a CT?"),
               dict(rec, qid=4, answer_type="BOTH")]
    (root / "VQA_RAD Dataset Public.json").write_text(json.dumps(records))


def test_vqa_rad_release(tmp_path, write_image):
    vqa_rad_files(tmp_path, write_image)
    samples, bad = split(list(VQARADSource(path=tmp_path, split="train")))
    assert sorted(samples) == ["vqa_rad-1", "vqa_rad-2"] and list(bad) == ["vqa_rad-4"]
    s1, s2 = samples["vqa_rad-1"], samples["vqa_rad-2"]
    assert s1.answer_type == "closed" and s1.answer == "Yes" and s1.meta["image_organ"] == "HEAD"
    assert s2.answer == "3" and s2.answer_type == "open" and s2.meta["question"] == "How many lesions?"
    assert render_messages(s2)[0]["content"] == "<image>\nHow many lesions?\nPlease answer the question concisely."
    assert bad["vqa_rad-4"].field == "answer_type"
    (t,) = list(VQARADSource(path=tmp_path, split="test"))
    assert t.id == "vqa_rad-3" and t.meta["phrase_type"] == "test_freeform"


def test_slake_english_and_chinese(tmp_path, write_image):
    img = write_image(tmp_path / "imgs" / "xmlab102" / "source.jpg", "JPEG")
    base = {"img_id": 102, "img_name": "xmlab102/source.jpg", "location": "Lung", "modality": "CT",
            "answer_type": "CLOSED", "base_type": "vqa", "content_type": "Abnormality", "triple": ["vhead", "_", "_"]}
    train = [dict(base, qid=1, question="Does the picture contain lung?", answer="Yes", q_lang="en"),
             dict(base, qid=2, question="这张图片包含肺吗?", answer="是", q_lang="zh"),
             dict(base, qid=3, question="Where is the abnormality?", answer="Left Lung", q_lang="en",
                  answer_type="OPEN", img_name="xmlab9/source.jpg")]
    (tmp_path / "train.json").write_text(json.dumps(train, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "validate.json").write_text("[]")
    (tmp_path / "test.json").write_text("[]")
    samples, bad = split(list(SLAKESource(path=tmp_path)))
    zh = samples["slake-train-2"]
    assert zh.meta["question"] == "这张图片包含肺吗?" and zh.answer == "是" and zh.meta["q_lang"] == "zh" and zh.images == [img]
    assert samples["slake-train-1"].modality == "CT" and samples["slake-train-1"].answer_type == "closed"
    assert bad["slake-train-3"].field == "img_name"
    only_en, _ = split(list(SLAKESource(path=tmp_path, languages=["en"])))
    assert sorted(only_en) == ["slake-train-1"]
    assert list(SLAKESource(path=tmp_path, split="validation")) == []


def test_pmc_vqa_train_and_test_csv(tmp_path, write_image):
    img = write_image(tmp_path / "figures" / "PMC1_F2.jpg", "JPEG")
    write_csv(tmp_path / "train_2.csv", [
        {"Figure_path": "PMC1_F2.jpg", "Question": "What modality is used?", "Answer": "MRI",
         "Choice A": " A:CT ", "Choice B": " B:MRI ", "Choice C": " C:PET ", "Choice D": " D:US ", "Answer_label": "B"},
        {"Figure_path": "PMC1_F2.jpg", "Question": "Q?", "Answer": "zzz",
         "Choice A": "A:1", "Choice B": "B:2", "Choice C": "C:3", "Choice D": "D:4", "Answer_label": ""},
    ])
    write_csv(tmp_path / "test_2.csv", [
        {"index": "17", "Figure_path": "PMC1_F2.jpg", "Caption": "Fig 2.", "Question": "Which?",
         "Choice A": "A: X-ray", "Choice B": "B: CT", "Choice C": "C: MRI", "Choice D": "D: US", "Answer": "C",
         "split": "test"}])
    samples, bad = split(list(PMCVQASource(path=tmp_path)))
    (s,) = samples.values()
    assert s.options == ["CT", "MRI", "PET", "US"] and s.answer == "B" and s.images == [img] and s.kind == "mcq"
    assert s.messages[1]["content"] == "B" and s.meta["question"] == "What modality is used?"
    item = BenchmarkItem(id="x", benchmark="pmc_vqa", question="What modality is used?", answer="B", answer_type="mcq",
                         options=s.options, images=s.images)
    assert render_messages(s)[0]["content"] == build_request(item).messages[0]["content"]  # trained as evaluated
    assert list(bad.values())[0].field == "Answer_label"
    (t,) = list(PMCVQASource(path=tmp_path, split="test"))
    assert t.id == "pmc_vqa-17" and t.answer == "C" and t.options[0] == "X-ray" and t.meta["caption"] == "Fig 2."


def r2gen_files(root: Path, write_image) -> tuple[bytes, bytes]:
    a = write_image(root / "images" / "CXR1_1_IM-0001" / "0.png")
    b = write_image(root / "images" / "CXR1_1_IM-0001" / "1.png", shade=40)
    ann = {"train": [{"id": "CXR1_1_IM-0001", "report": "The heart is normal in size. The lungs are clear.",
                      "image_path": ["CXR1_1_IM-0001/0.png", "CXR1_1_IM-0001/1.png"], "split": "train"},
                     {"id": "CXR2", "report": "No acute disease.", "image_path": ["CXR2/0.png"], "split": "train"}],
           "val": [{"id": "CXR3", "report": "Normal.", "image_path": ["CXR1_1_IM-0001/0.png"], "split": "val"}],
           "test": []}
    (root / "annotation.json").write_text(json.dumps(ann))
    return a, b


def test_r2gen_annotation(tmp_path, write_image):
    a, b = r2gen_files(tmp_path, write_image)
    samples, bad = split(list(R2GenSource(path=tmp_path, name="iu_xray")))
    s = samples["iu_xray-CXR1_1_IM-0001"]
    assert s.kind == "report" and s.images == [a, b] and s.answer_type == "report"
    assert s.messages[0]["content"] == "<image><image>\n" + REPORT_PROMPT
    assert s.answer == "The heart is normal in size. The lungs are clear."
    assert bad["iu_xray-CXR2"].field == "image_path"
    (v,) = list(R2GenSource(path=tmp_path / "annotation.json", split="val"))
    assert v.id == "r2gen-CXR3"
    (c, _) = list(R2GenSource(path=tmp_path, kind="caption"))
    assert c.kind == "caption" and c.caption.startswith("The heart")


def test_report_json_findings_impression(tmp_path, write_image):
    img = write_image(tmp_path / "files" / "p10" / "s1.jpg", "JPEG")
    recs = [{"id": "s1", "image": ["files/p10/s1.jpg"], "findings": "No effusion.", "impression": "Normal chest."},
            {"id": "s2", "image": ["files/p10/s1.jpg"], "findings": "", "impression": ""},
            {"id": "s3", "image": ["files/p10/s1.jpg"], "findings": "", "impression": "Cardiomegaly."}]
    (tmp_path / "mimic.json").write_text(json.dumps(recs))
    samples, bad = split(list(ReportJsonSource(path=tmp_path / "mimic.json")))
    assert samples["report_json-s1"].answer == "Findings: No effusion. Impression: Normal chest."
    assert samples["report_json-s1"].images == [img] and samples["report_json-s3"].answer == "Impression: Cardiomegaly."
    assert bad["report_json-s2"].field == "findings"
    caps, bad = split(list(ReportJsonSource(path=tmp_path / "mimic.json", kind="caption")))
    assert caps["report_json-s1"].caption == "No effusion." and set(bad) == {"report_json-s2", "report_json-s3"}


def test_medqa_medmcqa_pubmedqa_instruction(tmp_path):
    (tmp_path / "medqa").mkdir()
    (tmp_path / "medqa" / "train.jsonl").write_text(json.dumps({
        "question": "A 23-year-old woman ...?", "answer": "Nitrofurantoin",
        "options": {"A": "Ampicillin", "B": "Ceftriaxone", "C": "Doxycycline", "D": "Nitrofurantoin", "E": "TMP"},
        "meta_info": "step1", "answer_idx": "D"}) + "\n")
    (s,) = list(MedQASource(path=tmp_path / "medqa", split="train"))
    assert s.kind == "mcq" and s.options[3] == "Nitrofurantoin" and s.answer == "D" and s.images == []
    assert "E. TMP" in rendered_question(s) and s.meta["meta_info"] == "step1"

    mc = [{"question": "Which vitamin?", "exp": "Because.", "cop": 3, "opa": "A1", "opb": "B1", "opc": "C1",
           "opd": "D1", "subject_name": "Biochemistry", "topic_name": None, "id": "e9ad", "choice_type": "single"},
          {"question": "Test q", "cop": -1, "opa": "a", "opb": "b", "opc": "c", "opd": "d", "id": "t1"}]
    (tmp_path / "train.json").write_text("\n".join(json.dumps(r) for r in mc) + "\n")  # JSON Lines named .json
    samples, bad = split(list(MedMCQASource(path=tmp_path / "train.json")))
    assert samples["medmcqa-e9ad"].answer == "C" and samples["medmcqa-e9ad"].meta["subject"] == "Biochemistry"
    assert bad["medmcqa-t1"].field == "cop"
    (h,) = [r for r in MedMCQASource(path=tmp_path / "train.json", cop_base=0) if not isinstance(r, Quarantine)]
    assert h.answer == "D"

    (tmp_path / "ori_pqal.json").write_text(json.dumps({"21645374": {
        "QUESTION": "Do mitochondria play a role?", "CONTEXTS": ["Background one.", "Results two."],
        "LABELS": ["BACKGROUND", "RESULTS"], "final_decision": "yes", "LONG_ANSWER": "Yes, they do.", "YEAR": "2011"}}))
    (p,) = list(PubMedQASource(path=tmp_path / "ori_pqal.json"))
    assert p.id == "pubmedqa-21645374" and p.options == ["yes", "no", "maybe"] and p.answer == "A"
    assert p.context == "Background one.\nResults two." and p.messages[0]["content"] == "Do mitochondria play a role?"
    assert render_messages(p)[0]["content"].startswith("Question: Background one.\nResults two.\nDo mitochondria play a role?\n"
                                               "Options: \nA. yes\nB. no\nC. maybe\nAnswer with the option's letter")

    (tmp_path / "alpacare.jsonl").write_text(json.dumps({"instruction": "Explain.", "input": "Asthma", "output": "..."})
                                            + "\n" + json.dumps({"instruction": "Hi", "output": ""}) + "\n")
    samples, bad = split(list(InstructionJsonlSource(path=tmp_path / "alpacare.jsonl")))
    assert samples["instruction_jsonl-alpacare-0"].messages[0]["content"] == "Explain.\n\nAsthma"
    assert bad["instruction_jsonl-alpacare-1"].field == "output"


def test_labelled_images_folders_masks_and_csv(tmp_path, write_image):
    img = write_image(tmp_path / "pneumonia" / "p1.png")
    write_image(tmp_path / "normal" / "n1.png")
    write_image(tmp_path / "masks" / "pneumonia" / "p1.png", shade=255)
    samples, bad = split(list(LabelledImagesSource(path=tmp_path, mask_dir="masks", modality="chest radiograph")))
    assert set(samples) == {"labelled_images-pneumonia_p1", "labelled_images-normal_n1"} and not bad
    p = samples["labelled_images-pneumonia_p1"]
    assert p.answer == "pneumonia" and p.images == [img] and p.meta["mask"].endswith("masks/pneumonia/p1.png")
    assert samples["labelled_images-normal_n1"].meta.get("mask") is None

    write_csv(tmp_path / "labels.csv", [{"file": "pneumonia/p1.png", "dx": "pneumonia", "seg": "masks/pneumonia/p1.png"},
                                        {"file": "normal/n1.png", "dx": "normal", "seg": "masks/none.png"}])
    src = LabelledImagesSource(path=tmp_path, labels_file="labels.csv", image_column="file", label_column="dx",
                               mask_column="seg")
    samples, bad = split(list(src))
    assert samples["labelled_images-labels-0"].meta["mask"] == "masks/pneumonia/p1.png"
    assert bad["labelled_images-labels-1"].field == "seg"


def test_demo_source_wraps_demo_samples_and_partitions_cover_it():
    src = DemoSource(seed=3, num_images=12, num_text=8)
    expected = [s.id for s in demo.demo_samples("train", 3, 12, 8)]
    assert [s.id for s in src] == expected
    parts = sorted((i, j, r.id) for p in range(3) for i, j, r in src.records(p, 3))
    assert [x[2] for x in parts] == expected
    assert all(s.meta["file"] == "demo" for s in src)


@pytest.mark.parametrize("cls", [LlavaSource, VQARADSource, SLAKESource, PMCVQASource, R2GenSource, MedQASource])
def test_missing_path_names_the_source_and_the_fix(cls, tmp_path):
    with pytest.raises(ValueError, match=rf"source {cls.default_name}: `path` is not set.*source\.{cls.default_name}\.path="):
        cls(path=None)
    with pytest.raises(FileNotFoundError, match=rf"source {cls.default_name}: path .* does not exist"):
        cls(path=tmp_path / "absent")


def test_json_arrays_stream_across_chunks():
    import io

    from lingshu.data.sources.base import SourceError
    from lingshu.data.sources.records import _json_items

    def items(text: str, chunk: int = 1 << 20) -> list:
        return [v for _, v in _json_items(io.BytesIO(text.encode()), 1 << 20, chunk)]

    data = [{"id": i, "text": "x]" * (i % 50), "n": [12345, {"a": "]"}]} for i in range(300)] + [1234567]
    assert items(json.dumps(data, indent=1), chunk=64) == data
    assert items(" [ ] ") == []
    out = items('[{"a": 1}, {"b": ', chunk=8)
    assert out[0] == {"a": 1} and isinstance(out[1], SourceError) and "ends inside item 1" in str(out[1])


def test_parquet_partitions_take_whole_row_groups(tmp_path):
    img = image_bytes()
    n = 10
    pq.write_table(pa.table({"image": [img] * n, "question": [f"q{i}" for i in range(n)], "answer": ["yes"] * n}),
                   tmp_path / "t.parquet", row_group_size=3)  # groups of 3, 3, 3, 1
    src = ParquetSource(path=tmp_path / "t.parquet")
    everything = [(i, s.meta["question"]) for i, _, s in src.records()]
    assert everything == [(i, f"q{i}") for i in range(n)]
    parts = [[i for i, _, _ in src.records(p, 2)] for p in range(2)]
    assert parts == [[0, 1, 2, 6, 7, 8], [3, 4, 5, 9]]
    assert [i for i, _, _ in ParquetSource(path=tmp_path / "t.parquet", limit=4).records(1, 2)] == [3]
