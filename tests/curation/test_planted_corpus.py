"""A planted corpus in real formats (caption pairs, LLaVA, instruction JSONL) with a held-out
VQA-RAD test split standing in for a benchmark: every planted record ends exactly where it should."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lingshu.data.shards import iter_samples
from lingshu.tasks.curate import run

from curation_helpers import make_cfg

TEXT = ("Hypertension is persistently elevated arterial blood pressure and a major risk factor for stroke "
        "myocardial infarction heart failure and chronic kidney disease so management combines lifestyle change "
        "such as salt restriction weight loss and exercise with drugs chosen by comorbidity including thiazide "
        "diuretics calcium channel blockers and inhibitors of the renin angiotensin system for most adults")
LEAKED_QUESTION = ("Is there evidence of an acute infarct in the left middle cerebral artery territory on this "
                   "diffusion weighted image")


def noise_image(seed: int, size: int = 96, fmt: str = "JPEG") -> bytes:
    rng = np.random.default_rng(seed)
    img = Image.fromarray((rng.random((size // 8, size // 8, 3)) * 255).astype(np.uint8)).resize((size, size))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


CAPTION = "A chest radiograph showing a right lower lobe opacity consistent with community acquired pneumonia."


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    img = root / "img"
    img.mkdir()
    a, leak = noise_image(1), noise_image(99)
    files = {"a.jpg": a, "a_copy.jpg": a, "a.png": Image.open(io.BytesIO(a)).convert("RGB"),
             "trunc.jpg": noise_image(2)[:900], "tiny.jpg": noise_image(3, size=40), "short.jpg": noise_image(4),
             "leak.jpg": leak, "empty.jpg": b"", "ok.jpg": noise_image(5), "b.jpg": noise_image(6),
             "c.jpg": noise_image(7)}
    for name, data in files.items():
        if isinstance(data, Image.Image):
            data.save(img / name, format="PNG")
        else:
            (img / name).write_bytes(data)
    jsonl(root / "captions.jsonl", [
        {"id": "c1", "image": "a.jpg", "caption": CAPTION},
        {"id": "c2", "image": "a_copy.jpg", "caption": "Another caption of the same radiograph, exactly the same pixels."},
        {"id": "c3", "image": "a.png", "caption": "The same radiograph again, re-encoded as a PNG file by someone."},
        {"id": "c4", "image": "trunc.jpg", "caption": CAPTION},
        {"id": "c5", "image": "tiny.jpg", "caption": CAPTION},
        {"id": "c6", "image": "short.jpg", "caption": "CT."},
        {"id": "c7", "image": "leak.jpg", "caption": CAPTION},
        {"id": "c8", "image": "empty.jpg", "caption": CAPTION},
        {"id": "c9", "image": "missing.jpg", "caption": CAPTION},
        {"id": "c10", "image": "ok.jpg", "caption": CAPTION},
    ])

    def conv(i, image, q, a_):
        return {"id": i, "image": image, "conversations": [{"from": "human", "value": f"<image>\n{q}"},
                                                           {"from": "gpt", "value": a_}]}

    (root / "llava_med.json").write_text(json.dumps([
        conv("v1", "img/a.jpg", "Is there an opacity?", "yes"),
        conv("v2", "img/a_copy.jpg", "Which lobe is affected?", "right lower lobe"),
        conv("v3", "img/b.jpg", f"Look closely. {LEAKED_QUESTION}?", "no"),
        conv("v4", "img/c.jpg", "Is there an opacity?", "no"),
    ]))
    jsonl(root / "alpaca.jsonl", [{"instruction": "Explain hypertension.", "output": TEXT},
                                  {"instruction": "Define sepsis.", "output": "Sepsis is organ dysfunction from infection."},
                                  {"instruction": "Define sepsis.", "output": "Sepsis is organ dysfunction from infection."}])
    jsonl(root / "medtext.jsonl", [{"instruction": "Explain hypertension.", "output": TEXT.replace("adults", "patients")}])

    bench = root / "vqa_rad"
    (bench / "VQA_RAD Image Folder").mkdir(parents=True)
    (bench / "VQA_RAD Image Folder" / "synpic1.jpg").write_bytes(leak)
    (bench / "VQA_RAD Dataset Public.json").write_text(json.dumps([
        {"qid": 1, "image_name": "synpic1.jpg", "image_organ": "HEAD", "answer": "yes", "answer_type": "CLOSED",
         "question_type": "PRES", "question": LEAKED_QUESTION, "phrase_type": "test_freeform"}]))
    return root


EXPECTED = {
    "captions": {"kept": ["captions-c1", "captions-c10"],
                 "rejects": {"captions-c2": ("phash_caption", "drop"), "captions-c3": ("phash_caption", "drop"),
                             "captions-c4": ("decode", "quarantine"), "captions-c5": ("min_size", "drop"),
                             "captions-c6": ("caption_tokens", "drop"), "captions-c7": ("decontaminate", "drop"),
                             "captions-c8": ("decode", "quarantine"), "captions-c9": ("source", "quarantine")}},
    "llava_med": {"kept": ["llava_med-v1", "llava_med-v4"],
                  "rejects": {"llava_med-v2": ("phash_instruction", "drop"), "llava_med-v3": ("decontaminate", "drop")}},
    "alpaca": {"kept": ["alpaca-alpaca-1", "alpaca-alpaca-2"], "rejects": {"alpaca-alpaca-0": ("minhash_text", "drop")}},
    "medtext": {"kept": ["medtext-medtext-0"], "rejects": {}},
}


def test_planted_corpus(corpus, tmp_path, tokenizer_dir):
    sources = {
        "captions": {"_target_": "lingshu.data.sources.captions.CaptionPairsSource",
                     "path": str(corpus / "captions.jsonl"), "image_root": str(corpus / "img"), "id_column": "id"},
        "llava_med": {"_target_": "lingshu.data.sources.conversation.LlavaSource",
                      "path": str(corpus / "llava_med.json")},
        "alpaca": {"_target_": "lingshu.data.sources.text.InstructionJsonlSource", "path": str(corpus / "alpaca.jsonl")},
        "medtext": {"_target_": "lingshu.data.sources.text.InstructionJsonlSource",
                    "path": str(corpus / "medtext.jsonl"), "priority": 1},  # the more reliable copy wins
    }
    cfg = make_cfg(tmp_path, tokenizer_dir, sources=sources, num_partitions=2, workers=1)
    cfg.curation.ops.decontaminate.held_out = {"vqa_rad_test": {"_target_": "lingshu.datasets.vqa_rad.VQARADSource",
                                                      "path": str(corpus / "vqa_rad"), "split": "test"}}
    result = run(cfg)
    for name, want in EXPECTED.items():
        out = Path(result["shard_dirs"][name])
        assert [s.id for s in iter_samples([out])] == want["kept"], name
        rejects = [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]
        assert {r["id"]: (r["op"], r["action"]) for r in rejects} == want["rejects"], name
        c = json.loads((out / "manifest.json").read_text())["counts"]
        assert c["read"] == c["kept"] + c["quarantined"] + sum(c["dropped"].values()) == \
            len(want["kept"]) + len(want["rejects"])
    rejects = {json.loads(x)["id"]: json.loads(x) for name in EXPECTED
               for x in (Path(result["shard_dirs"][name]) / "rejects.jsonl").read_text().splitlines()}
    assert rejects["captions-c9"]["field"] == "image" and rejects["captions-c9"]["row"] == 8
    assert rejects["captions-c7"]["statistic"]["match"] == "vqa_rad_test:vqa_rad-1"
    assert "13-gram" in rejects["llava_med-v3"]["reason"]
    assert rejects["alpaca-alpaca-0"]["statistic"]["duplicate_source"] == "medtext"
    assert rejects["captions-c3"]["statistic"]["duplicate_of"] == "captions-c1"
