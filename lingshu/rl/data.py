"""RL prompts from curated samples (LINGSHU.md section 5): verifiable answers only, word/phrase MCQs
rewritten as open questions, yes/no downsampled, groups balanced by modality and question type,
and a prompt that asks for the <think>/<answer> layout."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

from lingshu.data.mixture import MixtureEntry
from lingshu.prompts import is_yes_no, render_messages
from lingshu.schema import IMAGE_TOKEN, LETTERS, THINK_ANSWER_INSTRUCTION, BenchmarkItem, Sample, stable_id


@dataclass
class RLData:
    # Curated sources (weights unused: prompts are balanced instead), each with an optional kinds filter.
    mixture: list[MixtureEntry] = field(default_factory=list)
    yes_no_fraction: float = 0.05  # the paper keeps ~5% of yes/no questions
    mcq_to_open: bool = True  # MCQs whose answer is a word or phrase become open questions
    max_phrase_words: int = 4
    balance: bool = True  # cap every (modality, question type) group at the median group size
    max_prompts: int | None = None
    heldout_prompts: int = 64  # kept aside to measure reward before and after RL
    heldout_benchmark: str | None = None  # take held-out prompts from this benchmark's test items instead
    heldout_samples: int = 2  # sampled responses per held-out prompt (at the rollout temperature)

    def __post_init__(self) -> None:
        self.mixture = [MixtureEntry(**m) if isinstance(m, dict) else m for m in self.mixture]
        if not self.mixture:
            raise ValueError("stages.<name>.data.mixture names no curated source for RL prompts")


def question_type(s: Sample) -> str:
    if is_yes_no(s.answer_type, s.answer or ""):
        return "yes/no"
    return s.answer_type or "other"


def to_open(s: Sample, max_words: int) -> Sample | None:
    """A structured MCQ whose correct option is a short phrase, asked as an open question whose
    answer is that option's text (paper rule). A free-form MCQ has no structure to rewrite."""
    letter = (s.answer or "").strip().upper()
    if s.template is None or not s.options or letter not in LETTERS[: len(s.options)]:
        return None
    text = s.options[LETTERS.index(letter)].strip()
    if len(text.split()) > max_words:
        return None
    return Sample(id=s.id + "-open", source=s.source, kind="vqa", images=s.images, answer=text, answer_type="open",
                  modality=s.modality, context=s.context, template=s.template, messages=s.messages[:1],
                  meta={**s.meta, "rewritten_from": "mcq"})


def as_prompt(s: Sample) -> Sample:
    """The sample's question asking for the <think>/<answer> layout, rendered (a structured question)
    or its first user turn with that instruction added (free-form); no assistant turn."""
    if s.template is not None:
        user = render_messages(s, "think_answer")[0]["content"]
    else:
        user = s.messages[0]["content"].rstrip()
        if THINK_ANSWER_INSTRUCTION not in user:
            user = f"{user}\n{THINK_ANSWER_INSTRUCTION}"
    if s.images and IMAGE_TOKEN not in user:
        raise ValueError(f"sample {s.id}: images without <image> placeholders in the first user turn")
    return Sample(id=s.id, source=s.source, kind=s.kind, images=s.images, answer=s.answer, options=s.options,
                  answer_type=s.answer_type, modality=s.modality, messages=[{"role": "user", "content": user}],
                  meta=dict(s.meta))


def item_to_sample(item: BenchmarkItem) -> Sample:
    """A benchmark question as a structured Sample with its first image (as evaluation asks it)."""
    kind = "mcq" if item.answer_type == "mcq" else "vqa"
    return Sample(id=item.id, source=item.benchmark, kind=kind, images=list(item.images[:1]),
                  messages=[{"role": "user", "content": item.question}],
                  answer=item.answer_letter or item.answer if item.answer_type == "mcq" else item.answer,
                  options=item.options, answer_type=item.answer_type, context=item.context, template="question",
                  modality=item.categories.get("modality"))


def heldout_from_benchmark(items: Iterable[BenchmarkItem], cfg: RLData, seed: int) -> list[Sample]:
    """Verifiable test questions as RL prompts (same rewrites; no downsampling or balancing)."""
    held = RLData(mixture=cfg.mixture, yes_no_fraction=1.0, mcq_to_open=cfg.mcq_to_open,
                  max_phrase_words=cfg.max_phrase_words, balance=False, max_prompts=cfg.heldout_prompts)
    return build_prompts((item_to_sample(i) for i in items if i.answer_type != "report"), held, seed)[0]


def build_prompts(samples: Iterable[Sample], cfg: RLData, seed: int) -> tuple[list[Sample], dict]:
    """(prompts, counts of what was kept, rewritten and dropped, by reason)."""
    counts: dict[str, int] = defaultdict(int)
    groups: dict[tuple, list[Sample]] = defaultdict(list)
    for s in samples:
        counts["read"] += 1
        if s.answer is None or s.answer_type not in ("mcq", "closed", "open") or s.kind in ("caption", "report"):
            counts["dropped_unverifiable"] += 1
            continue
        if s.answer_type == "mcq" and cfg.mcq_to_open:
            opened = to_open(s, cfg.max_phrase_words)
            if opened is not None:
                s = opened
                counts["mcq_rewritten_open"] += 1
        if question_type(s) == "yes/no":  # deterministic per id, whatever the order
            if random.Random(stable_id(seed, s.id)).random() >= cfg.yes_no_fraction:
                counts["dropped_yes_no_downsampled"] += 1
                continue
        groups[(s.modality, question_type(s))].append(as_prompt(s))
    cap = None
    if cfg.balance and groups:
        sizes = sorted(len(v) for v in groups.values())
        cap = sizes[len(sizes) // 2]
    rng = random.Random(seed)
    prompts = []
    for key in sorted(groups, key=str):
        members = groups[key]
        if cap is not None and len(members) > cap:
            members = rng.sample(members, cap)
            counts["dropped_balance"] += len(groups[key]) - cap
        prompts.extend(members)
    rng.shuffle(prompts)
    if cfg.max_prompts is not None and len(prompts) > cfg.max_prompts:
        counts["dropped_max_prompts"] += len(prompts) - cfg.max_prompts
        prompts = prompts[: cfg.max_prompts]
    counts["kept"] = len(prompts)
    return prompts, dict(counts)
