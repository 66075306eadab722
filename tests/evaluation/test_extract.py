"""Golden tests for answer extraction: every form the issue lists, and the MedEvalKit defects of
the Lingshu paper's protocol that concern extraction."""

import pytest

from lingshu.evaluation.extract import (
    closed_match,
    extract_boxed,
    extract_mcq_letter,
    extract_yes_no,
    normalize_answer,
    token_f1,
)

OPTS = ["X-ray", "CT", "MRI", "Histopathology"]


@pytest.mark.parametrize("response,letter", [
    ("A", "A"), ("(A)", "A"), ("A.", "A"), ("A) X-ray", "A"), ("A: X-ray", "A"), ("[B]", "B"),
    ("**B**", "B"), ("**B. CT**", "B"), ("Answer: C", "C"), ("answer: (c)", "C"), ("The answer is D", "D"),
    ("The correct answer is (C) MRI.", "C"), ("<answer>B</answer>", "B"), ("\\boxed{C}", "C"),
    ("\\boxed{\\text{D}}", "D"), ("MRI", "C"), ("mri.", "C"), ("Histopathology", "D"), ("C MRI", "C"),
    ("The answer is MRI.", "C"), ("I think (B) is right", "B"),
    ("<think>It could be A or B.</think><answer>C</answer>", "C"),
    ("Step by step... so the final choice is \\boxed{B}", "B"),
    ("the answer is c.", "C"), ("The answer is: C", "C"), ("I choose C", "C"), ("答案：B", "B"),
    ("Option B is correct, not A", "B"), ("C. MRI\nA is wrong because it is a radiograph.", "C"),
])
def test_mcq_forms(response, letter):
    assert extract_mcq_letter(response, OPTS) == letter


def test_lowercase_letter_is_not_guessed():
    # "b" alone is ambiguous with a word; strict mode accepts only capital letters.
    assert extract_mcq_letter("b", OPTS) is None


@pytest.mark.parametrize("response", [
    "", "   ", None, "A or B", "A. CT", "Answer: A. Actually the answer is B", "E", "Answer: E",
    "A lesion is seen in the left lung", "I am not sure", "B MRI", "\\boxed{}", "CT or MRI",
    "The answer is a lesion in the lung", "answer: a mass",
])
def test_mcq_refuses_to_guess(response):
    assert extract_mcq_letter(response, OPTS) is None


def test_empty_response_is_not_a_when_gold_is_a():
    # MedEvalKit defect: an empty response counted as correct when the gold letter was A.
    assert extract_mcq_letter("", OPTS) is None
    assert extract_mcq_letter("   ", OPTS) is None


def test_no_random_letter_fallback():
    # MedEvalKit defect: MMMU fell back to a random letter when nothing parsed; strict refuses.
    assert extract_mcq_letter("I cannot tell from this image", ["cat", "dog", "cow"]) is None


def test_ten_options():
    opts = [f"option {i}" for i in range(10)]
    assert extract_mcq_letter("J", opts) == "J"
    assert extract_mcq_letter("The answer is (I)", opts) == "I"
    assert extract_mcq_letter("J", opts[:4]) is None


@pytest.mark.parametrize("response,expected", [
    ("yes", "yes"), ("Yes.", "yes"), ("NO", "no"), ("No, there is no lesion.", "no"),
    ("Yes, there is a lesion", "yes"), ("nodule present: yes", "yes"), ("\\boxed{no}", "no"),
    ("<answer>yes</answer>", "yes"), ("unknown", None), ("none", None), ("nothing", None),
    ("yes, but no mass is seen", None), ("", None), (None, None), ("maybe", None),
])
def test_yes_no_whole_word(response, expected):
    assert extract_yes_no(response) == expected


def test_yes_no_defects():
    # MedEvalKit defect: substring matching made "unknown" a "no" and "nodule present: yes" wrong.
    assert closed_match("unknown", "no") == (False, False)
    assert closed_match("nodule present: yes", "yes") == (True, True)


@pytest.mark.parametrize("response,gold,expected", [
    ("是", "是", (True, True)), ("是的，有病灶", "是", (True, True)), ("不是", "是", (False, True)),
    ("没有", "否", (True, True)), ("不确定", "否", (False, False)), ("是，不是", "是", (False, False)),
])
def test_chinese_yes_no(response, gold, expected):
    assert closed_match(response, gold) == expected


def test_closed_exact_after_normalisation():
    assert closed_match("Left lung.", "left lung") == (True, True)
    assert closed_match("The left lung", "left lung") == (True, True)
    assert closed_match("left", "left lung") == (False, True)
    assert closed_match("", "left lung") == (False, False)
    assert closed_match("肺", "肺") == (True, True)


def test_normalize_answer():
    assert normalize_answer("  The 3.5 cm, Lesion!  ") == "3.5 cm lesion"
    assert normalize_answer("X-ray") == "x ray"
    assert normalize_answer("") == ""


def test_token_f1():
    assert token_f1("left lung", "the left lung") == 1.0
    assert token_f1("left", "left lung") == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    assert token_f1("", "left") == 0.0
    assert token_f1("", "") == 1.0
    assert token_f1("右肺", "肺") == pytest.approx(2 / 3)  # CJK: one token per character


@pytest.mark.parametrize("text,expected", [
    ("\\boxed{C}", "C"), ("x \\boxed{\\frac{1}{2}} y", "\\frac{1}{2}"), ("\\boxed{a} then \\boxed{b}", "b"),
    ("\\boxed {yes}", "yes"), ("\\boxed{a", None), ("no box", None), ("", None), (None, None),
    ("\\boxed{{nested}{x}}", "{nested}{x}"),
])
def test_extract_boxed(text, expected):
    assert extract_boxed(text) == expected


def test_normalize_ascii_fast_path_matches_unicode_rule():
    from lingshu.text import _is_punct

    ascii_text = "".join(chr(i) for i in range(32, 127)) + " The 3 mm (A) lesion, left-sided!"
    slow = "".join(" " if _is_punct(c) else c for c in ascii_text.lower())
    assert normalize_answer(ascii_text) == " ".join(w for w in slow.split() if w not in ("a", "an", "the"))
    assert normalize_answer("3.5 mm") == "3.5 mm" and normalize_answer("«Pneumonia»!") == "pneumonia"
