"""MedEvalKit's paper-era scoring rules (alibaba-damo-academy/MedEvalKit, first commit), re-implemented.

These reproduce the published numbers, defects included: an empty or unreadable MCQ response is
given to a string-similarity fallback that can credit it (an empty response counts as option A),
and a closed yes/no answer is right only when the text before the first "." is exactly the gold
word. `docs/EVAL_PROTOCOLS.md` lists every rule and where the profile deliberately differs.
"""

from __future__ import annotations

from difflib import SequenceMatcher
from functools import lru_cache

# Phrases after which MedEvalKit keeps only the text that follows (checked in this order, each
# one splitting on its last occurrence).
ANSWER_MARKERS = ("**answer**:", "**answer**", "*answer*:", "**answer:**", "answer is", "answer:", "答案:",
                  "final answer", "final answer is")
# How each benchmark writes its choices, both in the prompt and for the scorer ("{L}" letter, "{o}" text).
CHOICE_LAYOUT = {"pubmedqa": "{L}.{o}", "supergpqa_med": "{L}.{o}", "medbullets_op4": "{L}.{o}",
                 "medbullets_op5": "{L}.{o}", "mmlu_med": "{L}.{o}"}
DEFAULT_CHOICE_LAYOUT = "{L}. {o}"
# Benchmarks whose scorer reads the raw response (no <answer> tag pre-extraction).
NO_TAG_PREPASS = ("pmc_vqa",)


def choice_strings(benchmark: str, options: list[str], raw: list[str] | None = None) -> list[str]:
    """The choices as MedEvalKit shows and scores them (PMC-VQA: the CSV's own strings)."""
    if raw:
        return [str(c) for c in raw]
    fmt = CHOICE_LAYOUT.get(benchmark, DEFAULT_CHOICE_LAYOUT)
    return [fmt.format(L=chr(65 + i), o=o) for i, o in enumerate(options)]


def tag_content(text: str, tag: str) -> str:
    """All `<tag>...</tag>` spans joined by a space; the text itself when there are none (or all empty)."""
    if not text:
        return ""
    open_t, close_t = f"<{tag}>", f"</{tag}>"
    parts, start = [], text.find(open_t)
    while start != -1:
        end = text.find(close_t, start + len(open_t))
        if end == -1:
            break
        parts.append(text[start + len(open_t): end])
        start = text.find(open_t, end + len(close_t))
    joined = " ".join(parts).strip()
    return joined or text


def boxed_content(text: str) -> str:
    """Content of the last `\\boxed{` up to its matching brace; the string "None" when unclosed or absent."""
    start = text.rfind("\\boxed{")
    if start == -1:
        return "None"
    depth = 0
    body = text[start + len("\\boxed{"):]
    for i, ch in enumerate(body):
        depth += (ch == "{") - (ch == "}")
        if depth == -1:
            return body[:i].strip()
    return "None"


@lru_cache(maxsize=4096)
def _lowered(choices: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(c.lower() for c in choices)


def answer_span(response: str, n_choices: int) -> str:
    """The part of a (lower-cased) response MedEvalKit compares against the choices."""
    text = response.lower()
    letters = [chr(97 + i) for i in range(n_choices)]
    if "boxed" in text:
        text = boxed_content(text)
    elif "<answer>" in text:
        text = tag_content(text, "answer")
    elif text.split("\n\n")[0] in letters:
        text = text.split("\n\n")[0]
    elif text.split("\n\n")[-1].split(".")[0] in letters:
        text = text.split("\n\n")[-1].split(".")[0]
    for marker in ANSWER_MARKERS:
        if marker in text:
            text = text.split(marker)[-1]
    return text.strip().lower().replace("\n", "")


def mcq_verdict(choices: list[str], answer: str, response: str | None, *, tag_prepass: bool = True
                ) -> tuple[bool, str | None, str]:
    """(correct, letter it read or None, rule) under MedEvalKit's `judge_multi_choice`.

    rule: "letter" | "choice" | "exact" (the head equals the gold string) | "similarity" (the fallback:
    the choice most similar to the response, first one on ties and when nothing is similar).
    """
    response = response or ""
    if tag_prepass:
        response = tag_content(response, "answer")
    low = _lowered(tuple(choices))
    letters = [chr(97 + i) for i in range(len(low))]
    text = answer_span(response, len(low))
    head = text.split(".")[0].split(":")[-1]
    gold = answer.strip().lower()
    if head == gold:
        return True, head.upper() if head in letters else None, "exact"
    if head in letters:
        return low[ord(head) - 97] == gold, head.upper(), "letter"
    if head in low:
        idx = low.index(head)
        return gold in letters and idx == ord(gold) - 97, chr(65 + idx), "choice"
    best, best_i = 0.0, 0
    for i, c in enumerate(low):
        s = SequenceMatcher(None, c, text).ratio()
        if s > best:
            best, best_i = s, i
    return letters[best_i] == gold or low[best_i] == gold, chr(65 + best_i), "similarity"


def yes_no_verdict(answer: str, response: str | None) -> tuple[bool, str]:
    """VQA-RAD / PathVQA closed yes/no: (correct, the text compared), exact match before the first '.'."""
    text = tag_content(response or "", "answer")
    boxed = boxed_content(text)
    if boxed != "None":
        text = boxed
    head = text.lower().strip().split(".")[0]
    return head == answer.lower().strip(), head
