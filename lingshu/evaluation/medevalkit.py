"""MedEvalKit's paper-era scoring rules (alibaba-damo-academy/MedEvalKit, first commit), re-implemented.

These reproduce the published numbers, defects included: an empty or unreadable MCQ response is
given to a string-similarity fallback that can credit it (an empty response counts as option A),
and a closed yes/no answer is right only when the text before the first "." is exactly the gold
word. `docs/EVAL_PROTOCOLS.md` lists every rule and where the profile deliberately differs.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path

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
    return list(_laid_out(CHOICE_LAYOUT.get(benchmark, DEFAULT_CHOICE_LAYOUT), tuple(options)))


@lru_cache(maxsize=4096)
def _laid_out(fmt: str, options: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(fmt.format(L=chr(65 + i), o=o) for i, o in enumerate(options))


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
    best_i = _most_similar(low, text)
    return letters[best_i] == gold or low[best_i] == gold, chr(65 + best_i), "similarity"


def _most_similar(choices: tuple[str, ...], text: str) -> int:
    """Index of the choice with the highest difflib ratio against the text (the first on ties, 0 when
    none is similar). The response is indexed once and compared with every choice."""
    matcher = SequenceMatcher(None, "", text)
    best, best_i = 0.0, 0
    for i, c in enumerate(choices):
        matcher.set_seq1(c)
        s = matcher.ratio()
        if s > best:
            best, best_i = s, i
    return best_i


def yes_no_verdict(answer: str, response: str | None) -> tuple[bool, str]:
    """VQA-RAD / PathVQA closed yes/no: (correct, the text compared), exact match before the first '.'."""
    text = tag_content(response or "", "answer")
    boxed = boxed_content(text)
    if boxed != "None":
        text = boxed
    head = text.lower().strip().split(".")[0]
    return head == answer.lower().strip(), head


def report_reference(findings: str | None, impression: str | None) -> str:
    """MedEvalKit's golden report (note the trailing period)."""
    return f"Findings: {findings} Impression: {impression}."


def report_tokens(text: str) -> list[str]:
    """MedEvalKit's report tokens: lower case, '.' -> ' .', split on single spaces, empties dropped."""
    return [t for t in str(text).lower().replace(".", " .").split(" ") if t != ""]


def cider(hyps: list[list[str]], refs: list[list[str]], n: int = 4) -> float:
    """CIDEr as `cidereval` defines it (not CIDEr-D: no length penalty, no clipping), one reference
    per hypothesis, document frequencies from these references ("corpus" mode), x10 per item, mean."""
    import math
    from collections import Counter

    def grams(toks: list[str]) -> Counter:
        return Counter(tuple(toks[i:i + k]) for k in range(1, n + 1) for i in range(len(toks) - k + 1))

    ref_grams = [grams(r) for r in refs]
    df: Counter = Counter()
    for g in ref_grams:
        df.update(g.keys())
    log_n = math.log(float(len(refs)))

    def vec(g: Counter) -> tuple[list[dict], list[float]]:
        v: list[dict] = [{} for _ in range(n)]
        norm = [0.0] * n
        for gram, tf in g.items():
            w = tf * (log_n - math.log(max(1.0, df[gram])))
            v[len(gram) - 1][gram] = w
            norm[len(gram) - 1] += w * w
        return v, [math.sqrt(x) for x in norm]

    scores = []
    for h, rg in zip(hyps, ref_grams):
        vh, nh = vec(grams(h))
        vr, nr = vec(rg)
        sims = []
        for k in range(n):
            dot = sum(w * vr[k].get(gram, 0.0) for gram, w in vh[k].items())
            sims.append(dot / (nh[k] * nr[k]) if nh[k] and nr[k] else dot)
        scores.append(10.0 * sum(sims) / n)
    return sum(scores) / len(scores) if scores else 0.0


def _meteor_scorer():
    """NLTK's single_meteor_score when its WordNet data is installed locally, else None."""
    try:
        from nltk.corpus import wordnet
        from nltk.translate.meteor_score import single_meteor_score
        wordnet.ensure_loaded()
    except (ImportError, LookupError):
        return None
    return single_meteor_score


def report_scores(hyps: list[str | None], refs: list[str]) -> dict[str, float | None]:
    """MedEvalKit's `cal_report_metrics.py`, x100: per-report NLTK sentence BLEU-1..4, `rouge` 1.0.1
    ROUGE-1/2/L F and NLTK METEOR, summed over non-empty responses and divided by all reports;
    CIDEr over the non-empty responses only. METEOR is None without NLTK's WordNet data."""
    import warnings

    from nltk.translate.bleu_score import sentence_bleu
    from rouge import Rouge

    meteor = _meteor_scorer()
    scorer = Rouge()
    weights = {1: [1], 2: [0.5, 0.5], 3: [1 / 3] * 3, 4: [0.25] * 4}
    tot = dict.fromkeys(["bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_1", "rouge_2", "rouge_l", "meteor"], 0.0)
    kept_h, kept_r = [], []  # the non-empty responses and their references, for CIDEr
    for hyp, ref in zip(hyps, refs):
        if not hyp or not hyp.strip():  # MedEvalKit skips "" (and its rouge call fails on blanks)
            continue
        th, tr = report_tokens(hyp), report_tokens(ref)
        kept_h.append(hyp.lower())
        kept_r.append(ref.lower())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NLTK warns on every zero n-gram overlap
            for k, w in weights.items():
                tot[f"bleu_{k}"] += sentence_bleu([tr], th, weights=w)
        r = scorer.get_scores(hyp.lower(), ref.lower())[0]
        tot["rouge_1"] += r["rouge-1"]["f"]
        tot["rouge_2"] += r["rouge-2"]["f"]
        tot["rouge_l"] += r["rouge-l"]["f"]
        if meteor is not None:
            tot["meteor"] += meteor(tr, th)
    n = len(refs)
    out: dict[str, float | None] = {k: 100.0 * v / n if n else None for k, v in tot.items()}
    if meteor is None:
        out["meteor"] = None
    toks = ptb_tokenize(kept_h + kept_r) if kept_h else None
    out["cider"] = 100.0 * cider(toks[:len(kept_h)], toks[len(kept_h):]) if toks else None
    return out


# PTB tokens cidereval drops after tokenising
PTB_PUNCTUATION = {"''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"}


def ptb_tokenize(texts: list[str]) -> list[list[str]] | None:
    """cidereval's tokenisation: Stanford PTBTokenizer 3.4.1 (the jar shipped with pycocoevalcap, run
    quietly by Java), one line per text, lower case, punctuation tokens dropped. None without Java or
    the jar."""
    import importlib.util
    import os
    import shutil
    import subprocess
    import tempfile

    spec = importlib.util.find_spec("pycocoevalcap")
    roots = list(spec.submodule_search_locations or []) if spec else []  # a namespace package: no __init__
    jar = os.path.join(roots[0], "tokenizer", "stanford-corenlp-3.4.1.jar") if roots else ""
    if not shutil.which("java") or not os.path.exists(jar):
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as fh:
        fh.write("\n".join(t.replace("\n", " ") for t in texts))
    try:
        out = subprocess.run(["java", "-cp", jar, "edu.stanford.nlp.process.PTBTokenizer", "-preserveLines",
                              "-lowerCase", fh.name], capture_output=True, check=True).stdout.decode("utf-8")
    finally:
        os.unlink(fh.name)
    lines = out.split("\n")
    return [[w for w in lines[i].rstrip().split(" ") if w and w not in PTB_PUNCTUATION] for i in range(len(texts))]


def judge_response(benchmark: str, response: str | None) -> str:
    """What MedEvalKit shows its judge as the user's answer: SLAKE the \\boxed{} content if any, else the
    raw response; VQA-RAD/PathVQA (and others) the <answer>/\\boxed{} content, lower-cased, cut at its first '.'."""
    text = response or ""
    if benchmark == "slake":
        boxed = boxed_content(text)
        return text if boxed == "None" else boxed
    text = tag_content(text, "answer")
    boxed = boxed_content(text)
    return (text if boxed == "None" else boxed).lower().strip().split(".")[0]


# MedEvalKit's judge prompt is not ours to ship: the user extracts it from their own MedEvalKit
# checkout (scripts/medevalkit_judge_prompt.py) and we keep only its sha256 to recognise it. The
# template is `utils.get_compare_messages` called with these placeholders as its arguments.
JUDGE_PLACEHOLDERS = ("question", "answer", "response")
JUDGE_TEMPLATE_SHA256 = "7b95e6fbe6904d739be023229ae0db12451596737d47493573ff7fb46d265538"
JUDGE_PROMPT_DIFFERS = "judge prompt differs from MedEvalKit's"  # a run's protocol when the sha256 differs
JUDGE_PROMPT_HOWTO = ("run `python scripts/medevalkit_judge_prompt.py <MedEvalKit checkout> "
                      "medevalkit_judge_prompt.txt` and set judge.prompt_file=medevalkit_judge_prompt.txt")
_PLACEHOLDER_RE = re.compile(r"\{(" + "|".join(JUDGE_PLACEHOLDERS) + r")\}")


def fill_judge_template(template: str, question: str, answer: str, response: str) -> str:
    """The template with {question} {answer} {response} replaced in one pass: any other braces stay
    as they are (MedEvalKit's template has some), and braces inside the values are never re-read."""
    values = {"question": question, "answer": answer, "response": response}
    return _PLACEHOLDER_RE.sub(lambda m: str(values[m.group(1)]), template)


def judge_prompt_builder(checkout: str | Path) -> Callable[..., list[dict]]:
    """MedEvalKit's own `get_compare_messages(question, response, answer)`, taken from a checkout.

    Only that function's definition is compiled from `utils/utils.py`, so MedEvalKit's heavy imports
    (openai, google-genai, nltk...) need not be installed to call it."""
    src = Path(checkout) / "utils" / "utils.py"
    if not src.is_file():
        raise FileNotFoundError(f"{src}: not found; pass the root of a MedEvalKit checkout "
                                f"(github.com/alibaba-damo-academy/MedEvalKit)")
    tree = ast.parse(src.read_text(encoding="utf-8"), filename=str(src))
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "get_compare_messages"]
    if not defs:
        raise ValueError(f"{src}: no top-level function get_compare_messages")
    namespace: dict = {}
    exec(compile(ast.Module(body=defs[-1:], type_ignores=[]), str(src), "exec"), namespace)  # noqa: S102
    return namespace["get_compare_messages"]


def judge_template_from(checkout: str | Path) -> str:
    """MedEvalKit's judge prompt template: its builder called with the placeholders themselves."""
    ph = {k: "{" + k + "}" for k in JUDGE_PLACEHOLDERS}
    messages = judge_prompt_builder(checkout)(ph["question"], ph["response"], ph["answer"])
    return messages[-1]["content"]
