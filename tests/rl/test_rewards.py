"""Golden tables for the reward components, and how Reward routes and weights them."""

import pytest

from lingshu.rl.rewards import Reward, accuracy_reward, format_reward
from lingshu.schema import Sample


def sample(answer, answer_type, options=None):
    return Sample(id="s", source="t", kind="vqa", messages=[{"role": "user", "content": "q"}], answer=answer,
                  answer_type=answer_type, options=options)


FORMAT = [
    ("<think>lesion on the left</think><answer>yes</answer>", 1.0),
    ("  <think>a\nb</think>\n<answer>CT</answer>\n", 1.0),
    ("<think>肺部有阴影</think><answer>是</answer>", 1.0),
    ("<answer>yes</answer>", 0.0),  # missing think
    ("<think>x</think>yes", 0.0),  # missing answer tags
    ("<think>x</think><answer>yes</answer> extra", 0.0),  # text after </answer>
    ("<think>x<think>y</think></think><answer>yes</answer>", 0.0),  # nested
    ("<think>x</think><answer><answer>yes</answer></answer>", 0.0),
    ("<think></think><answer>yes</answer>", 0.0),  # empty thinking
    ("", 0.0),
]


@pytest.mark.parametrize("response,expected", FORMAT)
def test_format_answer_tag(response, expected):
    assert format_reward([response], [sample("yes", "closed")]) == [expected]


@pytest.mark.parametrize("response,expected", [
    ("<think>sum is 4</think> so \\boxed{\\frac{1}{2}}", 1.0),
    ("<think>x</think>\\boxed{A}", 1.0),
    ("\\boxed{A}", 0.0),
    ("<think>x</think>", 0.0),
    ("<think>x</think>\\boxed{}", 0.0),
    ("<think>x</think><answer>A</answer>\\boxed{A}", 0.0),
])
def test_format_boxed(response, expected):
    assert format_reward([response], [sample("A", "mcq", ["a", "b"])], style="boxed") == [expected]


@pytest.mark.parametrize("response,s,expected", [
    ("<think>t</think><answer>B</answer>", sample("B", "mcq", ["CT", "MRI"]), 1.0),
    ("<think>t</think><answer>MRI</answer>", sample("B", "mcq", ["CT", "MRI"]), 1.0),  # option text
    ("<think>t</think><answer>A</answer>", sample("B", "mcq", ["CT", "MRI"]), 0.0),
    ("", sample("A", "mcq", ["CT", "MRI"]), 0.0),  # empty is never the first option
    ("<think>t</think><answer>Yes.</answer>", sample("yes", "closed"), 1.0),
    ("<think>t</think><answer>unknown</answer>", sample("no", "closed"), 0.0),  # not a "no"
    ("<think>t</think><answer>nodule present: yes</answer>", sample("yes", "closed"), 1.0),
    ("<think>t</think><answer>yes and no</answer>", sample("no", "closed"), 0.0),
    ("<think>t</think><answer>The Left</answer>", sample("left", "closed"), 1.0),
    ("<think>t</think><answer>3.50</answer>", sample("3.5", "closed"), 1.0),  # numeric tolerance
    ("<think>t</think><answer>4</answer>", sample("3.5", "open"), 0.0),
    ("<think>t</think><answer>chest radiograph</answer>", sample("chest radiograph", "open"), 1.0),
    ("<think>t</think><answer>a radiograph of the chest</answer>", sample("chest radiograph", "open"), 1.0),
    ("<think>t</think><answer>CT</answer>", sample("chest radiograph", "open"), 0.0),
    ("\\boxed{{left}}", sample("left", "closed"), 1.0),  # braces inside boxed
    ("<think>t</think><answer>肺</answer>", sample("肺", "open"), 1.0),  # Chinese
])
def test_accuracy_golden(response, s, expected):
    assert accuracy_reward([response], [s]) == [expected]


def test_accuracy_graded_open_and_not_applicable():
    got = accuracy_reward(["<think>t</think><answer>left lower lobe</answer>"], [sample("left lobe", "open")], graded=True)
    assert got[0] == pytest.approx(0.8)  # F1: precision 2/3, recall 1
    report = Sample(id="r", source="t", kind="report", messages=[{"role": "user", "content": "q"}], answer="x",
                    answer_type="report")
    assert accuracy_reward(["x"], [report]) == [None]


def test_lingshu_reward_weights_and_routing():
    reward = Reward(name="lingshu", components={
        "accuracy": {"fn": "lingshu.rl.rewards:accuracy_reward", "weight": 1.0},
        "format": {"fn": "lingshu.rl.rewards:format_reward", "weight": 0.5},
    })
    rows = reward(["<think>t</think><answer>yes</answer>", "yes", "<think>t</think><answer>no</answer>"],
                  [sample("yes", "closed")] * 3)
    assert [r["overall"] for r in rows] == [1.5, 1.0, 0.5]
    assert rows[1] == {"overall": 1.0, "accuracy": 1.0, "format": 0.0}

    routed = Reward(name="r", components={
        "accuracy": {"fn": "lingshu.rl.rewards:accuracy_reward", "answer_types": ["mcq"]},
        "custom": {"fn": "tests.rl.custom_reward:length_penalty", "weight": 2.0, "answer_types": ["open"],
                   "kwargs": {"per_char": 0.1}},
    })
    rows = routed(["A", "abc"], [sample("A", "mcq", ["x", "y"]), sample("abc", "open")])
    assert rows[0] == {"overall": 1.0, "accuracy": 1.0, "custom": None}
    assert rows[1]["accuracy"] is None and rows[1]["custom"] == pytest.approx(-0.3)
    assert rows[1]["overall"] == pytest.approx(-0.6)


def test_unknown_component_path_fails_clearly():
    with pytest.raises(ValueError, match="module:function"):
        Reward(name="x", components={"a": {"fn": "lingshu.rl.rewards.accuracy_reward"}})
