"""The benchmark prompts of MedEvalKit (LINGSHU.md section 6), word for word.

No system prompt is added; the engine wraps the user turn in the model's own chat template.
The reasoning variants keep the same question layout and ask for the final answer in one
`\\boxed{}` (read back with `extract.extract_boxed`).
"""

from __future__ import annotations

from lingshu.engines.base import GenerationRequest
from lingshu.evaluation.extract import normalize_answer
from lingshu.schema import IMAGE_TOKEN, LETTERS, BenchmarkItem

MCQ_INSTRUCTION = "Answer with the option's letter from the given choices directly."
YES_NO_INSTRUCTION = "Please output 'yes' or 'no'(no extra output)."
CLOSED_INSTRUCTION = "Answer the question using a single word or phrase."
OPEN_INSTRUCTION = "Please answer the question concisely."
REPORT_PROMPT = (
    "You are a helpful assistant. Please generate a report for the given images, including both findings "
    "and impressions. Return the report in the following format: Findings: {} Impression: {}."
)
REASONING_SUFFIX = {
    "mcq": "Think step by step, then put the letter of the correct option in one \\boxed{}.",
    "yes_no": "Think step by step, then put your final answer, 'yes' or 'no', in one \\boxed{}.",
    "closed": "Think step by step, then put your final answer, a single word or phrase, in one \\boxed{}.",
    "open": "Think step by step, then put your concise final answer in one \\boxed{}.",
}
# Short answers need few tokens; reports and reasoning chains need room.
DEFAULT_MAX_NEW_TOKENS = {"mcq": 64, "closed": 64, "open": 128, "report": 512}
REASONING_MAX_NEW_TOKENS = 2048
# MedEvalKit generates up to 8,192 new tokens for every benchmark (and sets no pixel cap): a verbose
# answer is not cut before its letter.
MEDEVALKIT_MAX_NEW_TOKENS = 8192


def is_yes_no(item: BenchmarkItem) -> bool:
    return item.answer_type == "closed" and normalize_answer(item.answer) in ("yes", "no")


def prompt_kind(item: BenchmarkItem) -> str:
    """mcq | yes_no | closed | open | report: which template the item gets."""
    return "yes_no" if is_yes_no(item) else item.answer_type


def mcq_prompt(question: str, options: list[str], reasoning: bool = False) -> str:
    """MedEvalKit's MCQ prompt (it starts with a newline, as the original does)."""
    lines = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(options))
    return f"\nQuestion: {question}\nOptions: \n{lines}\n" + (REASONING_SUFFIX["mcq"] if reasoning else MCQ_INSTRUCTION)


def build_prompt(item: BenchmarkItem, reasoning: bool = False) -> str:
    kind = prompt_kind(item)
    if kind == "report":
        return REPORT_PROMPT
    question = f"{item.context}\n{item.question}" if item.context else item.question
    if kind == "mcq":
        return mcq_prompt(question, list(item.options or []), reasoning)
    if reasoning:
        return f"{question}\n{REASONING_SUFFIX[kind]}"
    instruction = {"yes_no": YES_NO_INSTRUCTION, "closed": CLOSED_INSTRUCTION, "open": OPEN_INSTRUCTION}[kind]
    return f"{question}\n{instruction}"


def build_request(item: BenchmarkItem, *, reasoning: bool = False, max_images: int = 1,
                  max_new_tokens: int | None = None) -> GenerationRequest:
    """One greedy request: the item's first `max_images` images (in order) then the prompt."""
    images = list(item.images[:max_images]) if max_images else []
    prompt = build_prompt(item, reasoning)
    sep = "" if prompt.startswith("\n") or not images else "\n"
    content = IMAGE_TOKEN * len(images) + sep + prompt
    if max_new_tokens is None:
        max_new_tokens = REASONING_MAX_NEW_TOKENS if reasoning else DEFAULT_MAX_NEW_TOKENS[item.answer_type]
    return GenerationRequest(messages=[{"role": "user", "content": content}], images=images,
                             max_new_tokens=max_new_tokens, temperature=0.0)
