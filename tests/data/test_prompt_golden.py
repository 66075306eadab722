"""Golden: prompts rendered at use are byte-identical to those curation used to bake into records.

`golden_prompts.json` was written by `prompt_corpus.py` on the code that baked the prompts (see its
docstring), with two deliberate changes since, both dropping an answer-format line a sample
should not carry: an OCR exam page prints an open question without it (`pq_vqa-vqa-3-ocr`), as it
did for MCQs, and a distilled reasoning sample of a structured question asks with the
"think_answer" template alone (82 `*-cot` chats lost e.g. "Answer with the option's letter from
the given choices directly." before the <think>/<answer> instruction); the corpus covers every reader that makes questions, the demo corpus, the synthesizers
that write or consume questions, and RL prompt building.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import prompt_corpus
from lingshu.prompts import (CLOSED_INSTRUCTION, MCQ_INSTRUCTION, OPEN_INSTRUCTION, REPORT_PROMPT,
                             YES_NO_INSTRUCTION, render_messages)
from lingshu.schema import THINK_ANSWER_INSTRUCTION

BAKED = (MCQ_INSTRUCTION, YES_NO_INSTRUCTION, CLOSED_INSTRUCTION, OPEN_INSTRUCTION, REPORT_PROMPT,
         THINK_ANSWER_INSTRUCTION, "Options:", "Question: ")

GOLDEN = json.loads((Path(__file__).parent / "golden_prompts.json").read_text(encoding="utf-8"))


def test_training_chats_and_teacher_requests_match_the_baked_ones(tmp_path):
    samples, asked = prompt_corpus.build(tmp_path)
    chats = {s.id: render_messages(s) for s in samples}
    assert sorted(chats) == sorted(GOLDEN["chats"]) and len(chats) == 242
    structured = [s for s in samples if s.template is not None]
    # every question a reader, the demo or a synthesizer made, as MCQ or not (97), and the reasoning
    # distilled from the structured ones (82)
    assert len(structured) == 97 + 82
    for s in structured:  # stored bare: the question alone, no instruction, options or context
        assert not any(b in m["content"] for m in s.messages for b in BAKED), s.id
        assert s.context is None or s.context not in s.messages[0]["content"]
    for sid, expected in GOLDEN["chats"].items():
        assert chats[sid] == expected, sid
    assert asked == GOLDEN["asked"]  # what cot_distill and self_instruct_vqa asked the teacher


def test_rl_prompts_match_except_the_fixed_text_surgery():
    """Two deliberate changes, each pinned: a reasoning MCQ rewritten as an open question no longer
    keeps the blank lines its option lines left (the old regex removed lines, not newlines), and a
    text-only benchmark MCQ held out for RL no longer opens with a newline (as curated ones)."""
    got = prompt_corpus.listed(prompt_corpus.rl_prompts())
    assert len(got) == len(GOLDEN["rl"]) == 111
    fixed = 0
    for new, old in zip(got, GOLDEN["rl"]):
        if old[0].endswith("-reasoning-open"):
            fixed += 1
            old = old[:3] + [[{"role": "user", "content": re.sub("\n{2,}", "\n", old[3][0]["content"])}]]
        assert new == old, old[0]
    assert fixed == 3
    held = prompt_corpus.listed(prompt_corpus.heldout_prompts())
    assert len(held) == len(GOLDEN["heldout"]) == 31
    for new, old in zip(held, GOLDEN["heldout"]):
        if old[0] == "medqa-2":
            assert old[3][0]["content"].startswith("\nQuestion: ")
            old = old[:3] + [[{"role": "user", "content": old[3][0]["content"][1:]}]]
        assert new == old, old[0]
