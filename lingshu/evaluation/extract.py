"""Answer extraction: turn a free-form model response into a comparable answer.

Strict by design: when a response is empty, names two different answers, or cannot be parsed,
the extractors return None (scored wrong and counted as `unparsed`) instead of guessing. These
functions are shared by evaluation scoring and the RL accuracy reward, so they must stay cheap
(pure regex, no model) and deterministic.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from lingshu.schema import LETTERS
from lingshu.text import normalize_answer

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"([{_CJK}])")
_WORD_RE = re.compile(r"[a-z]+")
_MD_RE = re.compile(r"(\*\*|__|`)")
_ANSWER_TAG_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_THINK_RE = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
# "Answer: C", "The answer is (D)", "correct option is B", "Final answer - A", "I choose C", "答案：B".
# Keywords ignore case; a lower-case letter counts only when it cannot be a word ("answer: (c)",
# "answer is c."), so "the answer is a lesion" names no option.
_EXPLICIT_RE = re.compile(
    r"(?i:\banswer\b|\boption\b|\bchoice\b|\bchoose\b|\bselect\b|答案|选项)"
    r"(?:\s*(?i:is|would be|should be))?\s*[:：\-=]?\s*(?i:option\s*)?"
    r"(?:[\(\[]([A-Ja-j])[\)\]]|([A-J])(?![A-Za-z])|([a-j])(?=\s*(?:[.,;:!?。）)]|$)))"
)
# The answer text after "answer is"/"Answer:" (used to match option text: "The answer is MRI.")
_EXPLICIT_TEXT_RE = re.compile(r"\banswer\b\s*(?:is|[:：])\s*(.+)", re.IGNORECASE | re.DOTALL)
# A response that starts with the letter: "A", "(A)", "A.", "A) text", "A: text", "[A]"
_LEADING_RE = re.compile(r"^\s*[\(\[]?([A-J])(?:[\)\]][.:]?|[.:,]|$)(?:\s*(.*))?$", re.DOTALL)
_LEADING_SPACE_RE = re.compile(r"^\s*([A-J])\s+(.+)$", re.DOTALL)  # "B MRI": letter + its option text
_PAREN_LETTER_RE = re.compile(r"\(([A-J])\)")
_SECOND_LETTER_RE = re.compile(r"^(?:(?:and|or)\s+)?[\(\[]?([A-J])(?![A-Za-z])")  # "A, C" / "A and C"


def _tokens(text: str) -> list[str]:
    # Chinese has no spaces: every CJK character is a token (SLAKE-zh answers).
    return _CJK_RE.sub(r" \1 ", normalize_answer(text)).split()


def token_f1(pred: str, ref: str) -> float:
    """SQuAD-style token F1 between normalised texts (1.0 when both are empty)."""
    p, r = _tokens(pred), _tokens(ref)
    if not p or not r:
        return float(p == r)
    common = sum((Counter(p) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(r)
    return 2 * precision * recall / (precision + recall)


def extract_boxed(text: str | None) -> str | None:
    """Content of the last `\\boxed{...}` (nested braces allowed); None if absent or unbalanced."""
    if not text:
        return None
    start = text.rfind("\\boxed")
    while start != -1:
        i = start + len("\\boxed")
        while i < len(text) and text[i] == " ":
            i += 1
        if i < len(text) and text[i] == "{":
            depth, j = 0, i
            while j < len(text):
                if text[j] == "{":
                    depth += 1
                elif text[j] == "}":
                    depth -= 1
                    if depth == 0:
                        return text[i + 1 : j].strip()
                j += 1
        start = text.rfind("\\boxed", 0, start)
    return None


def final_answer_span(response: str) -> str:
    """The part of a response that states the answer: `\\boxed{}` or `<answer>` content if present,
    otherwise the response without `<think>` blocks and markdown emphasis."""
    boxed = extract_boxed(response)
    if boxed is not None:
        text = boxed
    else:
        tags = _ANSWER_TAG_RE.findall(response)
        text = tags[-1] if tags else _THINK_RE.sub(" ", response)
    text = re.sub(r"\\text\{([^{}]*)\}", r"\1", text)
    return _MD_RE.sub("", text).strip()


@lru_cache(maxsize=4096)
def _normalized_options(options: tuple[str, ...]) -> tuple[str, ...]:
    # A benchmark repeats the same option lists: normalise each list once, not once per response.
    return tuple(normalize_answer(o) for o in options)


def _option_by_text(text: str, options: list[str]) -> str | None:
    norm = normalize_answer(text)
    if not norm:
        return None
    hits = {LETTERS[i] for i, o in enumerate(_normalized_options(tuple(options))) if o == norm}
    return hits.pop() if len(hits) == 1 else None


def extract_mcq_letter(response: str | None, options: list[str] | None) -> str | None:
    """The option letter a response commits to, or None when empty, ambiguous or unparseable.

    Handles `A`, `(A)`, `A.`, `A) text`, `**B**`, `Answer: C`, `The answer is D`,
    `<answer>B</answer>`, `\\boxed{C}` and the option text alone. Letters beyond the option
    count are ignored (a 4-option question has no answer `E`).
    """
    if not response or not response.strip():
        return None
    options = list(options or [])
    valid = LETTERS[: len(options)] if options else LETTERS
    text = final_answer_span(response)
    if not text:
        return None

    m = _LEADING_RE.match(text)
    if m and m.group(1) in valid:
        rest = (m.group(2) or "").strip()
        second = _SECOND_LETTER_RE.match(rest)
        if second and second.group(1) in valid and second.group(1) != m.group(1):
            return None  # "A, C" names two options
        # "A. MRI" is fine; "A. CT" (text of another option) contradicts itself.
        other = _option_by_text(rest, options) if rest and options else None
        if other is None or other == m.group(1):
            return m.group(1)
        return None
    m = _LEADING_SPACE_RE.match(text)
    if m and m.group(1) in valid and options and _option_by_text(m.group(2), options) == m.group(1):
        return m.group(1)

    by_text = _option_by_text(text, options) if options else None
    if by_text:
        return by_text

    explicit = {"".join(groups).upper() for groups in _EXPLICIT_RE.findall(text)} & set(valid)
    if len(explicit) == 1:
        return explicit.pop()
    if len(explicit) > 1:
        return None
    m = _EXPLICIT_TEXT_RE.search(text)
    if m and options:
        stated = re.split(r"[\n]|\.(?:\s|$)", m.group(1).strip())[0]
        hit = _option_by_text(stated, options)
        if hit:
            return hit

    parens = set(_PAREN_LETTER_RE.findall(text)) & set(valid)
    if len(parens) == 1:
        return parens.pop()
    return None


def extract_yes_no(response: str | None) -> str | None:
    """'yes' or 'no' by whole word after normalisation; None when neither or both appear.

    "unknown" is not "no", "nodule present: yes" is "yes", "yes ... no ..." is ambiguous.
    """
    if not response:
        return None
    words = _WORD_RE.findall(normalize_answer(final_answer_span(response)))
    has_yes, has_no = "yes" in words, "no" in words
    if has_yes == has_no:
        return None
    return "yes" if has_yes else "no"


# Chinese yes/no (SLAKE-zh closed answers are 是/否). Negations are matched, then removed,
# first: "不是" contains "是".
_ZH_NO = ("不是", "没有", "否", "无")
_ZH_YES = ("是", "有", "对")


def extract_shi_fou(response: str | None) -> str | None:
    """'是' or '否' from a Chinese response; None when neither or both are stated."""
    text = final_answer_span(response or "")
    has_no = any(w in text for w in _ZH_NO)
    for w in _ZH_NO:
        text = text.replace(w, " ")
    has_yes = any(w in text for w in _ZH_YES)
    if has_yes == has_no:
        return None
    return "是" if has_yes else "否"


def closed_match(response: str | None, answer: str) -> tuple[bool, bool]:
    """(correct, parsed) for a closed question: yes/no by whole word, otherwise normalised exact match."""
    gold = normalize_answer(answer)
    if gold in ("yes", "no"):
        got = extract_yes_no(response)
        return got == gold, got is not None
    if gold in ("是", "否"):
        got = extract_shi_fou(response)
        return got == gold, got is not None
    pred = normalize_answer(final_answer_span(response or ""))
    return pred == gold, bool(pred)
