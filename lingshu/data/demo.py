"""The built-in synthetic medical corpus: deterministic from a seed, offline, fast to render.

Four "modalities" (chest radiograph, CT slice, MRI slice, histology patch) are drawn with numpy;
half of the images carry a bright or dark round lesion on the left or right, small or large.
From these labels come captions, yes/no and side questions, open modality questions, 4-option
modality MCQs, `Findings: ... Impression: ...` reports, plus text-only medical MCQs.
The train split also plants what curation must catch (see `planted_samples`).
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image

from lingshu.schema import LETTERS, BenchmarkItem, Sample

MODALITIES = ("chest radiograph", "CT slice", "MRI slice", "histology patch")
MCQ_OPTIONS = ["X-ray", "CT", "MRI", "Histopathology"]  # fixed order: the letter follows the modality
SPLIT_OFFSET = {"train": 0, "test": 1_000_003}
YESNO_PROMPT = "Is there a lesion in this image?"
SIDE_PROMPT = "On which side of the image is the lesion?"
OPEN_PROMPT = "What imaging modality is this?"
MCQ_PROMPT = "Which imaging modality is shown in this image?"
REPORT_PROMPT = "Write the radiology report for this image."
CAPTION_PROMPT = "Describe the image briefly."


@dataclass(frozen=True)
class Labels:
    modality: int  # index into MODALITIES
    lesion: bool
    side: str | None  # "left" | "right"
    size: str | None  # "small" | "large"
    bright: bool


def _render(lab: Labels, rng: np.random.Generator, size: int) -> Image.Image:
    yy, xx = np.mgrid[0:size, 0:size] / size
    noise = rng.normal(0, 0.04, (size, size))
    if lab.modality == 0:  # radiograph: dark lungs, bright horizontal ribs
        img = 0.25 + 0.35 * (np.sin(yy * 40 + rng.uniform(0, 6)) > 0.6) + 0.3 * (np.abs(xx - 0.5) < 0.06)
    elif lab.modality == 1:  # CT: grey disc on black with a bright rim
        r = np.hypot(xx - 0.5, yy - 0.5)
        img = np.where(r < 0.42, 0.45, 0.0) + np.where(np.abs(r - 0.42) < 0.02, 0.5, 0.0)
    elif lab.modality == 2:  # MRI: smooth blobs
        img = np.zeros((size, size))
        for _ in range(4):
            cx, cy, s = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.08, 0.2)
            img += 0.5 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
    else:  # histology: pink background with purple nuclei (RGB)
        img = np.ones((size, size)) * 0.85
        for _ in range(30):
            cx, cy = rng.uniform(0, 1, 2)
            img -= 0.4 * (np.hypot(xx - cx, yy - cy) < 0.03)
    img = img + noise
    if lab.lesion:
        cx = rng.uniform(0.2, 0.35) if lab.side == "left" else rng.uniform(0.65, 0.8)
        cy = rng.uniform(0.3, 0.7)
        radius = 0.1 if lab.size == "small" else 0.16
        dist = np.hypot(xx - cx, yy - cy)
        # a rim of the opposite tone keeps the lesion visible on any background
        img = np.where(dist < radius + 0.025, 0.02 if lab.bright else 1.0, img)
        img = np.where(dist < radius, 1.0 if lab.bright else 0.02, img)
    img = np.clip(img, 0, 1)
    if lab.modality == 3:
        rgb = np.stack([img, img * 0.7 + 0.1, img * 0.85], -1)
        return Image.fromarray((rgb * 255).astype(np.uint8), "RGB")
    return Image.fromarray((img * 255).astype(np.uint8), "L").convert("RGB")


def encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def labels_for(index: int, seed: int, split: str) -> Labels:
    r = random.Random(seed * 7919 + SPLIT_OFFSET[split] + index)
    lesion = index % 2 == 0  # exactly balanced yes/no
    return Labels(modality=(index // 2) % 4, lesion=lesion,
                  side=r.choice(["left", "right"]) if lesion else None,
                  size=r.choice(["small", "large"]) if lesion else None, bright=r.random() < 0.5)


def image_for(index: int, seed: int, split: str, size: int = 112) -> tuple[Labels, bytes]:
    lab = labels_for(index, seed, split)
    rng = np.random.default_rng(seed * 7919 + SPLIT_OFFSET[split] + index)
    return lab, encode(_render(lab, rng, size))


def caption_text(lab: Labels) -> str:
    m = MODALITIES[lab.modality]
    if not lab.lesion:
        return f"A {m} with no focal lesion; the study appears normal."
    tone = "bright" if lab.bright else "dark"
    return f"A {m} showing a {lab.size} {tone} lesion on the {lab.side} side of the image."


def report_text(lab: Labels) -> str:
    m = MODALITIES[lab.modality]
    if not lab.lesion:
        return f"Findings: {m} . no focal lesion is seen . Impression: normal study ."
    tone = "bright" if lab.bright else "dark"
    return (f"Findings: {m} . a {lab.size} {tone} lesion on the {lab.side} side . "
            f"Impression: abnormal study with a {lab.side} lesion .")


def _vqa(sid: str, img: bytes, lab: Labels, q: str, a: str, answer_type: str, kind: str = "vqa",
         options: list[str] | None = None, meta: dict | None = None, template: str = "question") -> Sample:
    """A one-image structured question; rendered with the "question" template, its user turn is
    exactly what the evaluation will ask (MedEvalKit prompts)."""
    return Sample(id=sid, source="demo", kind=kind, images=[img], template=template,
                  messages=[{"role": "user", "content": q}, {"role": "assistant", "content": a}],
                  answer=a, options=options, answer_type=answer_type, modality=MODALITIES[lab.modality],
                  meta={**(meta or {}), "question": q})


def image_samples(index: int, seed: int, split: str, lab: Labels, img: bytes) -> list[Sample]:
    """Every sample one image yields: caption, yes/no, side, open, MCQ and report."""
    base = f"demo-{split}-{index:05d}"
    meta = {"image_index": index, "split": split}
    out = [
        Sample(id=f"{base}-caption", source="demo", kind="caption", images=[img], modality=MODALITIES[lab.modality],
               messages=[{"role": "user", "content": f"<image>\n{CAPTION_PROMPT}"},
                         {"role": "assistant", "content": caption_text(lab)}], meta=dict(meta)),
        _vqa(f"{base}-yesno", img, lab, YESNO_PROMPT, "yes" if lab.lesion else "no", "closed", meta=meta),
        _vqa(f"{base}-open", img, lab, OPEN_PROMPT, MODALITIES[lab.modality], "open", meta=meta),
        _vqa(f"{base}-mcq", img, lab, MCQ_PROMPT, LETTERS[lab.modality], "mcq", kind="mcq",
             options=list(MCQ_OPTIONS), meta=meta),
        _vqa(f"{base}-report", img, lab, REPORT_PROMPT, report_text(lab), "report", kind="report", meta=meta),
    ]
    if lab.lesion:
        out.insert(2, _vqa(f"{base}-side", img, lab, SIDE_PROMPT, lab.side, "closed", meta=meta))
    if index % 3 == 1:  # a third of the images also teach the <think>/<answer> layout RL rewards
        out.append(reasoning_sample(f"{base}-reasoning", img, lab, index, meta))
    return out


def reasoning_sample(sid: str, img: bytes, lab: Labels, index: int, meta: dict) -> Sample:
    """A question answered as `<think>evidence</think><answer>answer</answer>`: yes/no, modality
    (open or MCQ) or side, cycling over the images that carry one."""
    kind = random.Random(f"reasoning/{index}").randrange(4)  # independent of the label cycle
    if kind == 2 and not lab.lesion:
        kind = 1  # no lesion, no side: ask the modality instead
    options = None
    if kind == 1:
        q, a, answer_type = OPEN_PROMPT, MODALITIES[lab.modality], "open"
    elif kind == 2:
        q, a, answer_type = SIDE_PROMPT, lab.side, "closed"
    elif kind == 3:
        q, a, answer_type, options = MCQ_PROMPT, LETTERS[lab.modality], "mcq", list(MCQ_OPTIONS)
    else:
        q, a, answer_type = YESNO_PROMPT, "yes" if lab.lesion else "no", "closed"
    think = f"The image looks like a {MODALITIES[lab.modality]}. " + (
        f"There is a {lab.size} lesion on the {lab.side} side." if lab.lesion else "No focal lesion is visible.")
    s = _vqa(sid, img, lab, q, f"<think>{think}</think><answer>{a}</answer>", answer_type, kind="reasoning",
             options=options, meta=meta, template="think_answer")
    s.answer = a  # the verifiable answer; the assistant turn carries the reasoning
    return s


# Text-only medical MCQs written for the demo: (question, answer, distractors).
TEXT_FACTS = [
    ("Which organ produces insulin?", "Pancreas", ["Liver", "Spleen", "Kidney"]),
    ("Which vitamin deficiency causes scurvy?", "Vitamin C", ["Vitamin A", "Vitamin D", "Vitamin K"]),
    ("Which chamber of the heart pumps blood into the aorta?", "Left ventricle", ["Right atrium", "Right ventricle", "Left atrium"]),
    ("What is the normal resting adult heart rate range in beats per minute?", "60-100", ["20-40", "120-160", "180-220"]),
    ("Which bone is the longest in the human body?", "Femur", ["Tibia", "Humerus", "Radius"]),
    ("Which cells produce antibodies?", "Plasma cells", ["Neutrophils", "Platelets", "Erythrocytes"]),
    ("Which electrolyte disturbance causes peaked T waves?", "Hyperkalemia", ["Hyponatremia", "Hypocalcemia", "Hypermagnesemia"]),
    ("Which organism causes tuberculosis?", "Mycobacterium tuberculosis", ["Staphylococcus aureus", "Escherichia coli", "Candida albicans"]),
    ("Which hormone is released by the posterior pituitary?", "Oxytocin", ["Cortisol", "Insulin", "Thyroxine"]),
    ("Which imaging modality uses no ionising radiation?", "MRI", ["CT", "X-ray", "PET"]),
    ("Which nerve is compressed in carpal tunnel syndrome?", "Median nerve", ["Ulnar nerve", "Radial nerve", "Axillary nerve"]),
    ("What is the first-line drug for anaphylaxis?", "Epinephrine", ["Diphenhydramine", "Prednisone", "Salbutamol"]),
    ("Which blood type is the universal red cell donor?", "O negative", ["AB positive", "A positive", "B negative"]),
    ("Which part of the brain coordinates balance?", "Cerebellum", ["Frontal lobe", "Medulla", "Thalamus"]),
    ("Which enzyme is elevated in acute pancreatitis?", "Lipase", ["Troponin", "Creatine kinase", "Alkaline phosphatase"]),
    ("Which gland sits in the sella turcica?", "Pituitary gland", ["Thyroid gland", "Adrenal gland", "Pineal gland"]),
    ("Which vessel carries oxygenated blood from the lungs?", "Pulmonary vein", ["Pulmonary artery", "Vena cava", "Aorta"]),
    ("Which virus causes chickenpox?", "Varicella zoster virus", ["Measles virus", "Rubella virus", "Mumps virus"]),
    ("Which test screens for cervical cancer?", "Pap smear", ["Colonoscopy", "Mammography", "PSA test"]),
    ("Which organ stores bile?", "Gallbladder", ["Pancreas", "Stomach", "Spleen"]),
    ("Which condition shows a 'bamboo spine' on radiographs?", "Ankylosing spondylitis", ["Osteoporosis", "Gout", "Rickets"]),
    ("Which lung lobe is most often affected by aspiration when upright?", "Right lower lobe", ["Left upper lobe", "Right upper lobe", "Lingula"]),
    ("Which hormone deficiency causes diabetes insipidus?", "Vasopressin", ["Insulin", "Aldosterone", "Glucagon"]),
    ("Which stain identifies acid-fast bacilli?", "Ziehl-Neelsen", ["Gram stain", "Giemsa", "PAS"]),
    ("Which valve lies between the left atrium and left ventricle?", "Mitral valve", ["Tricuspid valve", "Aortic valve", "Pulmonary valve"]),
]
TEXT_STEMS = ("{q}", "Medical knowledge question: {q}", "Choose the best answer. {q}", "Exam question: {q}")


def text_mcqs(seed: int, split: str, n: int) -> list[Sample]:
    """Text-only MCQs: each fact in several phrasings and option orders (answer letters balanced)."""
    rng = random.Random(seed * 31 + SPLIT_OFFSET[split])
    out = []
    for i in range(n):
        q, a, wrong = TEXT_FACTS[i % len(TEXT_FACTS)]
        stem = TEXT_STEMS[rng.randrange(len(TEXT_STEMS))].format(q=q)
        opts = list(wrong)
        rng.shuffle(opts)
        pos = i % 4
        opts.insert(pos, a)
        out.append(Sample(id=f"demo-{split}-text-{i:05d}", source="demo", kind="mcq", template="question",
                          messages=[{"role": "user", "content": stem}, {"role": "assistant", "content": LETTERS[pos]}],
                          answer=LETTERS[pos], options=opts, answer_type="mcq", meta={"split": split}))
    return out


def planted_samples(seed: int, first_index: int) -> list[Sample]:
    """Records curation must catch. Their ids name what they plant (`demo-planted-<what>-...`)."""
    lab, img = image_for(0, seed, "train")
    near = encode(Image.open(io.BytesIO(img)).convert("RGB"), "JPEG", quality=95)  # same picture, other bytes
    tiny_lab, _ = image_for(first_index, seed, "train")
    tiny = encode(_render(tiny_lab, np.random.default_rng(seed), 48))
    long_caption = " ".join([caption_text(lab)] * 120)  # far beyond 1024 tokens

    def cap(what: str, image: bytes, text: str) -> Sample:
        return Sample(id=f"demo-planted-{what}", source="demo", kind="caption", images=[image],
                      modality=MODALITIES[lab.modality],
                      messages=[{"role": "user", "content": f"<image>\n{CAPTION_PROMPT}"},
                                {"role": "assistant", "content": text}], meta={"planted": what})

    return [
        cap("tiny", tiny, caption_text(tiny_lab)),
        cap("exact_dup", img, caption_text(lab)),
        cap("near_dup", near, caption_text(lab)),
        cap("corrupt", img[: len(img) // 3], caption_text(lab)),  # truncated PNG
        cap("long_caption", image_for(first_index + 1, seed, "train")[1], long_caption),
    ]


def demo_samples(split: str = "train", seed: int = 0, num_images: int = 800, num_text: int = 200,
                 planted: bool = True):
    """Yield the split's samples; the train split also carries the planted records."""
    if split not in SPLIT_OFFSET:
        raise ValueError(f"demo split must be one of {sorted(SPLIT_OFFSET)}, got {split!r}")
    for i in range(num_images):
        lab, img = image_for(i, seed, split)
        yield from image_samples(i, seed, split, lab, img)
    yield from text_mcqs(seed, split, num_text)
    if split == "train" and planted:
        yield from planted_samples(seed, num_images)


def demo_benchmark_items(seed: int = 0, num_images: int = 60, kinds=("closed", "open", "mcq", "report")):
    """The held-out test split as BenchmarkItems (no image is shared with the train split)."""
    qtype = {"yesno": "yes/no", "side": "side", "open": "modality", "mcq": "modality", "report": "report"}
    for s in demo_samples("test", seed, num_images, num_text=0, planted=False):
        if s.kind in ("caption", "reasoning") or s.answer_type not in kinds:
            continue
        suffix = s.id.rsplit("-", 1)[1]
        yield BenchmarkItem(id=s.id, benchmark="demo", question=s.meta["question"], answer=s.answer,
                            answer_type=s.answer_type, images=s.images, options=s.options,
                            categories={"modality": s.modality, "question_type": qtype[suffix], "language": "en"})
