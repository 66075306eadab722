"""Evaluation requests: the strict prompts of `lingshu.prompts`, or MedEvalKit's own, word for word.

No system prompt is added; the engine wraps the user turn in the model's own chat template.
The reasoning variants keep the same question layout and ask for the final answer in one
`\\boxed{}` (read back with `extract.extract_boxed`).
"""

from __future__ import annotations

from lingshu.engines.base import GenerationRequest
from lingshu.evaluation import medevalkit
from lingshu.prompts import (CLOSED_INSTRUCTION, MCQ_INSTRUCTION, OPEN_INSTRUCTION, REPORT_PROMPT,
                             YES_NO_INSTRUCTION, question_prompt)
from lingshu.schema import IMAGE_TOKEN, LETTERS, BenchmarkItem

# Short answers need few tokens; reports and reasoning chains need room.
DEFAULT_MAX_NEW_TOKENS = {"mcq": 64, "closed": 64, "open": 128, "report": 512}
REASONING_MAX_NEW_TOKENS = 2048
# MedEvalKit generates up to 8,192 new tokens for every benchmark (and sets no pixel cap): a verbose
# answer is not cut before its letter.
MEDEVALKIT_MAX_NEW_TOKENS = 8192


# MedEvalKit's instructions per language (question_formats.py), plain and reasoning ("boxed").
MEK_INSTRUCTIONS = {
    ("en", "mcq"): (MCQ_INSTRUCTION,
                    'Answer with the option\'s letter from the given choices and put the letter in one "\\boxed{}".'),
    ("en", "yes_no"): (YES_NO_INSTRUCTION, 'Please output "yes" or "no" and put the answer in one "\\boxed{}".'),
    ("en", "closed"): (CLOSED_INSTRUCTION,
                       'Answer the question using a single word or phrase and put the answer in one "\\boxed{}".'),
    ("en", "open"): (OPEN_INSTRUCTION, 'Please answer the question concisely and put the answer in one "\\boxed{}".'),
    ("zh", "closed"): ("请用一个单词或者短语回答该问题。", "请用一个单词或者短语回答该问题，并将答案放在一个'\\boxed{}'中。"),
    ("zh", "open"): ("请简要回答该问题。", "请简要回答该问题，并将答案放在一个'\\boxed{}'中。"),
}
# MIMIC-CXR's copy of the report prompt sits in an indented triple-quoted string.
MEK_MIMIC_REPORT_PROMPT = f"\n        {REPORT_PROMPT}\n        "
# Benchmarks whose MedEvalKit loader passes a list of images, each preceded by "<image_k>: ".
MEK_IMAGE_LISTS = ("medxpertqa_mm", "iu_xray", "mimic_cxr")


def medevalkit_kind(item: BenchmarkItem) -> str:
    """The MedEvalKit template an item gets: SLAKE by its OPEN/CLOSED label, VQA-RAD/PathVQA yes/no
    by the answer (every other answer gets the open prompt and the judge), MMMU open as closed."""
    if item.answer_type in ("mcq", "report"):
        return item.answer_type
    if item.benchmark == "slake":
        return "closed" if str(item.meta.get("answer_type", item.answer_type)).upper() == "CLOSED" else "open"
    if item.benchmark == "mmmu_med":
        return "closed"
    return "yes_no" if item.answer.strip().lower() in ("yes", "no") else "open"


def medevalkit_prompt(item: BenchmarkItem, reasoning: bool = False) -> str:
    """The prompt MedEvalKit's loader builds for this item (docs/EVAL_PROTOCOLS.md lists the cases)."""
    kind = medevalkit_kind(item)
    if kind == "report":
        return MEK_MIMIC_REPORT_PROMPT if item.benchmark == "mimic_cxr" else REPORT_PROMPT
    lang = "zh" if item.categories.get("language") == "zh" else "en"
    instruction = MEK_INSTRUCTIONS[(lang, kind)][int(reasoning)]
    question = item.meta.get("question_full") or item.question
    if item.benchmark == "mmmu_med":  # MMMU's own layout
        listing = "".join(f"({LETTERS[i]}) {o}\n" for i, o in enumerate(item.options or []))
        body = f"\n{question}\n\n{listing}\n\n        " if kind == "mcq" else f"\n{question}\n\n        "
        return body + instruction
    if kind != "mcq":
        return f"{question}\n{instruction}"
    choices = medevalkit.choice_strings(item.benchmark, list(item.options or []), item.meta.get("choices"))
    prompt = "\nQuestion: " + question + "\nOptions: \n" + "\n".join(choices) + "\n" + instruction
    return f"Context: {item.context}\n{prompt}" if item.context else prompt


def build_prompt(item: BenchmarkItem, reasoning: bool = False, scoring: str = "strict") -> str:
    if scoring == "medevalkit":
        return medevalkit_prompt(item, reasoning)
    return question_prompt(item.question, item.answer_type, item.answer, item.options, item.context, reasoning)


def build_request(item: BenchmarkItem, *, reasoning: bool = False, max_images: int = 1,
                  max_new_tokens: int | None = None, scoring: str = "strict") -> GenerationRequest:
    """One greedy request: the item's first `max_images` images (in order) then the prompt.
    Under `medevalkit`: no separator after the image, and "<image_k>: " before each image of the
    benchmarks MedEvalKit gives an image list; the others get their first image only."""
    prompt = build_prompt(item, reasoning, scoring)
    if scoring == "medevalkit":
        lists = item.benchmark in MEK_IMAGE_LISTS
        images = list(item.images[:max_images if lists else 1]) if max_images else []
        content = ("".join(f"<image_{k + 1}>: {IMAGE_TOKEN}" for k in range(len(images))) if lists
                   else IMAGE_TOKEN * len(images)) + prompt
    else:
        images = list(item.images[:max_images]) if max_images else []
        sep = "" if prompt.startswith("\n") or not images else "\n"
        content = IMAGE_TOKEN * len(images) + sep + prompt
    if max_new_tokens is None:
        max_new_tokens = REASONING_MAX_NEW_TOKENS if reasoning else DEFAULT_MAX_NEW_TOKENS[item.answer_type]
    return GenerationRequest(messages=[{"role": "user", "content": content}], images=images,
                             max_new_tokens=max_new_tokens, temperature=0.0)
