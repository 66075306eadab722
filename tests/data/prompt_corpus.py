"""A corpus of structured questions from every reader that makes them (real release formats), the
demo corpus, and the synthesizers that write or consume questions, built through public APIs only.

`golden_prompts.json` holds the chats this corpus had when curation still baked the prompts into
the records (written by `python tests/data/prompt_corpus.py OUT.json` on that code); the golden test
renders the same corpus today and compares byte for byte. Regenerate only to record a deliberate
prompt change.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lingshu.data.demo import demo_benchmark_items, demo_samples
from lingshu.data.sources.parquet import ParquetSource
from lingshu.datasets.medmcqa import MedMCQASource
from lingshu.datasets.medqa import MedQASource
from lingshu.datasets.pmc_vqa import PMCVQASource
from lingshu.datasets.pubmedqa import PubMedQASource
from lingshu.datasets.slake import SLAKESource
from lingshu.datasets.vqa_rad import VQARADSource
from lingshu.prompts import render_messages
from lingshu.rl.data import RLData, build_prompts, heldout_from_benchmark
from lingshu.schema import BenchmarkItem, Sample
from lingshu.synthesis import apply
from lingshu.synthesis.cot_distill import CoTDistill
from lingshu.synthesis.ocr_render import OCRRender
from lingshu.synthesis.self_instruct_vqa import SelfInstructVQA
from lingshu.synthesis.template_vqa import TemplateVQA

from source_helpers import image_bytes


class ScriptedEngine:
    """Replies by prompt (question JSON, reasoning JSON, a verdict) and records what it was asked."""

    model = "scripted"

    def __init__(self):
        self.asked: list[str] = []

    def generate(self, requests):
        replies = []
        for r in requests:
            text = r.messages[-1]["content"]
            self.asked.append(text)
            if "wrong_answers" in text:
                replies.append(json.dumps({"question": f"Which structure is shown ({len(self.asked)})?",
                                           "answer": "Liver", "wrong_answers": ["Spleen", "Kidney", "Heart"]}))
            elif text.startswith("You check whether"):
                replies.append("Consistent. The steps lead to the reference.")
            else:
                replies.append(json.dumps({"reasoning": "Step 1: look. Step 2: conclude.", "answer": "x"}))
        return replies


def _write_image(path: Path, fmt: str = "PNG", shade: int = 100) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(image_bytes(fmt, shade=shade))


def _csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def source_samples(root: Path) -> list[Sample]:
    """VQA-RAD, SLAKE, PMC-VQA, parquet VQA/MCQ and the MedQA/MedMCQA/PubMedQA text sources."""
    rad = root / "vqa_rad"
    _write_image(rad / "VQA_RAD Image Folder" / "synpic54610.jpg", "JPEG")
    rec = {"qid": 1, "image_name": "synpic54610.jpg", "image_organ": "HEAD", "answer": "Yes", "answer_type": "CLOSED",
           "question_type": "PRES", "question": "Are regions of the brain infarcted?", "phrase_type": "freeform"}
    (rad / "VQA_RAD Dataset Public.json").write_text(json.dumps([
        rec, dict(rec, qid=2, answer=3, answer_type="OPEN ", question="How many lesions?", phrase_type="para"),
        dict(rec, qid=3, answer="left frontal lobe", answer_type="OPEN", question="Where is the lesion?"),
        dict(rec, qid=4, answer="No", question="Is this a CT?", phrase_type="test_freeform")]))
    slake = root / "slake"
    _write_image(slake / "imgs" / "xmlab102" / "source.jpg", "JPEG")
    base = {"img_id": 102, "img_name": "xmlab102/source.jpg", "location": "Lung", "modality": "CT",
            "answer_type": "CLOSED", "base_type": "vqa", "content_type": "Abnormality"}
    (slake / "train.json").write_text(json.dumps([
        dict(base, qid=1, question="Does the picture contain lung?", answer="Yes", q_lang="en"),
        dict(base, qid=2, question="这张图片包含肺吗?", answer="是", q_lang="zh"),
        dict(base, qid=3, question="Which organ is abnormal?", answer="Left Lung", q_lang="en", answer_type="OPEN"),
        dict(base, qid=4, question="What modality is used?", answer="CT", q_lang="en")], ensure_ascii=False),
        encoding="utf-8")
    pmc = root / "pmc_vqa"
    _write_image(pmc / "figures" / "PMC1_F2.jpg", "JPEG")
    _csv(pmc / "train_2.csv", [
        {"Figure_path": "PMC1_F2.jpg", "Question": "What modality is used?", "Answer": "MRI",
         "Choice A": " A:CT ", "Choice B": " B:MRI ", "Choice C": " C:PET ", "Choice D": " D:US ", "Answer_label": "B"},
        {"Figure_path": "PMC1_F2.jpg", "Question": "Where is the mass located in the image?", "Answer": "D:Right upper lobe",
         "Choice A": "A:Left lower lobe ", "Choice B": "B:Mediastinum", "Choice C": "C:Liver", "Choice D": "D:Right upper lobe",
         "Answer_label": ""}])
    pq_dir = root / "parquet"
    pq_dir.mkdir()
    img, img2 = image_bytes(), image_bytes(shade=40)
    pq.write_table(pa.table({"image": [[img], [img], [img, img2], []],
                             "question": ["is there a mass?", "what organ is shown?",
                                          "<image> before and <image> after: what changed?", "Name the enzyme."],
                             "answer": ["yes", "liver", "the effusion resolved", "Lipase"]}), pq_dir / "vqa.parquet")
    pq.write_table(pa.table({"img": [img, img], "q": ["Which?", "<image>\nWhich organ?"], "opts": [["CT", "MRI"],
                             ["Liver", "Spleen", "Kidney"]], "ans": ["MRI", "A"]}), pq_dir / "mcq.parquet")
    (root / "medqa").mkdir()
    (root / "medqa" / "train.jsonl").write_text(json.dumps({
        "question": "A 23-year-old woman ...?", "answer": "Nitrofurantoin", "meta_info": "step1", "answer_idx": "D",
        "options": {"A": "Ampicillin", "B": "Ceftriaxone", "C": "Doxycycline", "D": "Nitrofurantoin", "E": "TMP"}}) + "\n")
    mc = {"question": "Which vitamin?", "exp": "Because.", "cop": 3, "opa": "A1", "opb": "B1", "opc": "C1", "opd": "D1",
          "subject_name": "Biochemistry", "id": "e9ad", "choice_type": "single"}
    (root / "medmcqa.json").write_text(json.dumps(mc) + "\n" + json.dumps(dict(mc, id="f1", cop=1)) + "\n")
    (root / "ori_pqal.json").write_text(json.dumps({"21645374": {
        "QUESTION": "Do mitochondria play a role?", "CONTEXTS": ["Background one.", "Results two."],
        "LABELS": ["BACKGROUND", "RESULTS"], "final_decision": "yes", "LONG_ANSWER": "Yes, they do."}}))
    sources = [VQARADSource(path=rad, split="train"), VQARADSource(path=rad, split="test"), SLAKESource(path=slake),
               PMCVQASource(path=pmc), ParquetSource(path=pq_dir / "vqa.parquet", name="pq_vqa"),
               ParquetSource(path=pq_dir / "mcq.parquet", name="pq_mcq", image_column="img", question_column="q",
                             answer_column="ans", options_column="opts"),
               MedQASource(path=root / "medqa", split="train"), MedMCQASource(path=root / "medmcqa.json"),
               PubMedQASource(path=root / "ori_pqal.json")]
    return [s for src in sources for s in src if isinstance(s, Sample)]


def build(root: Path) -> tuple[list[Sample], list[str]]:
    """(every sample whose chat the golden test compares, the texts a teacher model was asked)."""
    sources = source_samples(root)
    demo = list(demo_samples("train", seed=0, num_images=8, num_text=6, planted=False))
    demo += list(demo_samples("test", seed=0, num_images=2, num_text=2, planted=False))
    captions = [s for s in demo if s.kind == "caption"]
    tvqa = TemplateVQA({"modality": "Which modality is shown?"}, {"modality": "Is this a {label}?"},
                       label_space={"modality": ["chest radiograph", "CT slice", "MRI slice", "histology patch"]})
    engine = ScriptedEngine()
    synthesizers = {"template_vqa": tvqa, "self_instruct_vqa": SelfInstructVQA(engine, open_ended=True)}
    made = [s for s in apply(synthesizers, captions, keep_inputs=False) if isinstance(s, Sample)]
    questions = [s for s in sources + demo + made if s.answer_type in ("mcq", "closed", "open")]
    derived = {"cot_distill": CoTDistill(engine), "ocr_render": OCRRender()}
    derived_out = [s for s in apply(derived, questions, keep_inputs=False) if isinstance(s, Sample)]
    return sources + demo + made + derived_out, engine.asked


def rl_prompts() -> list[Sample]:
    """RL prompts from a demo corpus (rewrites, downsampling and balancing as configured)."""
    cfg = RLData(mixture=[{"source": "demo"}], yes_no_fraction=0.5, max_phrase_words=4, heldout_prompts=0)
    corpus = list(demo_samples("train", seed=0, num_images=60, num_text=20, planted=False))
    return build_prompts(corpus, cfg, seed=0)[0]


def heldout_prompts() -> list[Sample]:
    """RL held-out prompts from benchmark items: the demo test split plus text MCQs (with a context)."""
    cfg = RLData(mixture=[{"source": "demo"}], heldout_prompts=100)
    items = list(demo_benchmark_items(seed=0, num_images=8)) + [
        BenchmarkItem(id="pubmedqa-1", benchmark="pubmedqa", question="Do statins help?", answer="A",
                      answer_type="mcq", options=["yes", "no", "maybe"], context="Background one.\nResults two."),
        BenchmarkItem(id="medqa-1", benchmark="medqa", question="Which drug is first line?", answer="B",
                      answer_type="mcq", options=["Aspirin therapy for long", "Metformin", "Insulin"]),
        BenchmarkItem(id="medqa-2", benchmark="medqa", question="Which is advised?", answer="A", answer_type="mcq",
                      options=["Rest, fluids and a follow-up visit in one week", "Surgery"])]
    return heldout_from_benchmark(items, cfg, seed=0)


def listed(prompts: list[Sample]) -> list:
    return [[p.id, p.answer, p.answer_type, p.messages] for p in prompts]


def snapshot(root: Path) -> dict:
    samples, asked = build(root)
    return {"chats": {s.id: render_messages(s) for s in samples}, "asked": asked, "rl": listed(rl_prompts()),
            "heldout": listed(heldout_prompts())}


if __name__ == "__main__":  # on the code whose prompts are the reference
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        Path(sys.argv[1]).write_text(json.dumps(snapshot(Path(tmp)), ensure_ascii=False, indent=0) + "\n",
                                     encoding="utf-8")
