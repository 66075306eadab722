"""The one prompt builder: a question's structure rendered as the user turn, for training, RL and
evaluation alike (MedEvalKit's benchmark instructions, word for word; `evaluation.prompts` adds
MedEvalKit's per-benchmark variants).

The reasoning variants keep the same question layout and ask for the final answer in one
`\\boxed{}`.
"""

from __future__ import annotations

from lingshu.schema import LETTERS
from lingshu.text import normalize_answer

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


def is_yes_no(answer_type: str, answer: str) -> bool:
    return answer_type == "closed" and normalize_answer(answer) in ("yes", "no")


def prompt_kind(answer_type: str, answer: str) -> str:
    """mcq | yes_no | closed | open | report: which template a question gets."""
    return "yes_no" if is_yes_no(answer_type, answer) else answer_type


def mcq_prompt(question: str, options: list[str], reasoning: bool = False) -> str:
    """MedEvalKit's MCQ prompt (it starts with a newline, as the original does)."""
    lines = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(options))
    return f"\nQuestion: {question}\nOptions: \n{lines}\n" + (REASONING_SUFFIX["mcq"] if reasoning else MCQ_INSTRUCTION)


def question_prompt(question: str, answer_type: str, answer: str, options: list[str] | None = None,
                    context: str | None = None, reasoning: bool = False) -> str:
    """The user turn for one question (MCQ prompts open with a newline, as MedEvalKit's do)."""
    kind = prompt_kind(answer_type, answer)
    if kind == "report":
        return REPORT_PROMPT
    question = f"{context}\n{question}" if context else question
    if kind == "mcq":
        return mcq_prompt(question, list(options or []), reasoning)
    if reasoning:
        return f"{question}\n{REASONING_SUFFIX[kind]}"
    instruction = {"yes_no": YES_NO_INSTRUCTION, "closed": CLOSED_INSTRUCTION, "open": OPEN_INSTRUCTION}[kind]
    return f"{question}\n{instruction}"
