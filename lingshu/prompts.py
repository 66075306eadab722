"""The one prompt builder: a question's structure rendered as the user turn, for training, RL and
evaluation alike. Shards store structured questions bare (`Sample.template` says how to render
them); `render_messages` builds the chat at use, so editing a prompt here changes every consumer.

Prompt sets: "question" (MedEvalKit's benchmark instructions, word for word; `evaluation.prompts`
adds MedEvalKit's per-benchmark variants) and "think_answer" (the <think>/<answer> layout RL
rewards). The reasoning variants keep the same question layout and ask for the final answer in one
`\\boxed{}`.
"""

from __future__ import annotations

from lingshu.schema import IMAGE_TOKEN, LETTERS, THINK_ANSWER_INSTRUCTION, Sample, user_text
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


def laid_out(question: str, answer_type: str, options: list[str] | None = None, context: str | None = None) -> str:
    """Context, question and an MCQ's lettered options (MedEvalKit's layout, opening with a newline
    as the original does), up to the line a prompt's instruction takes."""
    question = f"{context}\n{question}" if context else question
    if answer_type == "mcq":
        lines = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(options or []))
        return f"\nQuestion: {question}\nOptions: \n{lines}\n"
    return f"{question}\n"


def question_prompt(question: str, answer_type: str, answer: str, options: list[str] | None = None,
                    context: str | None = None, reasoning: bool = False) -> str:
    """The user turn for one question (MCQ prompts open with a newline, as MedEvalKit's do)."""
    kind = prompt_kind(answer_type, answer)
    if kind == "report":
        return REPORT_PROMPT
    instruction = REASONING_SUFFIX[kind] if reasoning else {
        "mcq": MCQ_INSTRUCTION, "yes_no": YES_NO_INSTRUCTION, "closed": CLOSED_INSTRUCTION, "open": OPEN_INSTRUCTION}[kind]
    return laid_out(question, kind, options, context) + instruction


def think_answer_prompt(question: str, answer_type: str, options: list[str] | None = None,
                        context: str | None = None) -> str:
    """The question laid out as `question_prompt` does, asking for the <think>/<answer> layout."""
    return laid_out(question, answer_type, options, context) + THINK_ANSWER_INSTRUCTION


def with_placeholders(text: str, n_images: int) -> str:
    """Prepend `<image>` lines when a text carries no placeholders for its images (the layout
    evaluation requests use: all placeholders, a newline, the text)."""
    have = text.count(IMAGE_TOKEN)
    if have == n_images:
        return text
    if have == 0:
        return IMAGE_TOKEN * n_images + "\n" + text
    raise ValueError(f"{have} {IMAGE_TOKEN} placeholders for {n_images} images")


def render_messages(sample: Sample, template: str | None = None) -> list[dict[str, str]]:
    """The chat a sample is used as: a free-form sample's messages as stored; a structured question's
    first user turn rendered by `template` (default: the sample's own), images first unless the
    question places them, with an MCQ prompt's opening newline dropped."""
    if sample.template is None:
        return sample.messages
    first, *rest = sample.messages
    question, options = first["content"], sample.options
    if (template or sample.template) == "think_answer":
        prompt = think_answer_prompt(question, sample.answer_type, options, sample.context)
    else:
        prompt = question_prompt(question, sample.answer_type, sample.answer or "", options, sample.context)
    return [{"role": "user", "content": with_placeholders(prompt.removeprefix("\n"), len(sample.images))}, *rest]


def exam_text(sample: Sample) -> str:
    """A question as printed on an exam page: context, question and lettered options, without the
    answer-format instruction meant for a model. A free-form sample: its user text as stored."""
    if sample.template is None:
        return user_text(sample.messages)
    return laid_out(sample.messages[0]["content"], sample.answer_type, sample.options, sample.context).strip("\n")


def rendered_question(sample: Sample) -> str:
    """The rendered first user turn without image placeholders (what a teacher model is asked)."""
    return user_text(render_messages(sample))
