from collections import Counter

import pytest

from lingshu.data.demo import demo_samples
from lingshu.schema import LETTERS, Sample
from lingshu.synthesis import apply
from lingshu.synthesis.template_vqa import TemplateVQA

TEMPLATES = {"modality": "Which modality?", "abnormality": "Which abnormality?"}
YESNO = {"modality": "Is this a {label} image?", "abnormality": "Does it show {label}?"}
SPACE = {"modality": ["CT", "MRI", "X-ray", "Ultrasound", "PET", "Fundus"],
         "abnormality": ["nodule", "effusion", "fracture", "normal"]}


def labelled(n: int, source: str = "test") -> list[Sample]:
    # Distinct (not decodable) image bytes suffice: template VQA copies images, it never decodes them.
    return [Sample(id=f"s{i}", source=source, kind="caption", images=[b"img%d" % i],
                   messages=[{"role": "user", "content": "<image>\nDescribe."}, {"role": "assistant", "content": "x"}],
                   meta={"labels": {"modality": SPACE["modality"][i % 6], "abnormality": SPACE["abnormality"][i % 4]}})
            for i in range(n)]


def run(samples, **kw) -> list[Sample]:
    syn = TemplateVQA(TEMPLATES, YESNO, **kw)
    return list(apply({"template_vqa": syn}, samples, keep_inputs=False))


def test_distractors_are_valid():
    samples = labelled(300)
    out = run(samples, label_space=SPACE)
    mcqs = [s for s in out if s.kind == "mcq"]
    assert len(mcqs) == 600
    for s in mcqs:
        label_type = s.meta["label_type"]
        correct = samples[int(s.meta["inputs"][0][1:])].meta["labels"][label_type]
        assert len(s.options) == 4 and len(set(s.options)) == 4
        assert s.options[LETTERS.index(s.answer)] == correct
        assert s.options.count(correct) == 1
        assert set(s.options) <= set(SPACE[label_type])
        assert s.messages[1]["content"] == s.answer and s.images == [b"img%s" % s.meta["inputs"][0][1:].encode()]


def test_letters_and_yes_no_are_balanced_over_10k_questions():
    out = run(labelled(10_000), label_space={"modality": SPACE["modality"]})
    letters = Counter(s.answer for s in out if s.kind == "mcq")
    yesno = Counter(s.answer for s in out if s.answer_type == "closed")
    assert sum(letters.values()) == 10_000 and sum(yesno.values()) == 10_000
    for letter in "ABCD":
        assert abs(letters[letter] / 10_000 - 0.25) < 0.02
    assert abs(yesno["yes"] / 10_000 - 0.5) < 0.02


def test_yes_no_asks_a_wrong_label_exactly_when_the_answer_is_no():
    samples = labelled(200)
    for s in run(samples, label_space=SPACE):
        if s.answer_type != "closed":
            continue
        label_type = s.meta["label_type"]
        label = samples[int(s.meta["inputs"][0][1:])].meta["labels"][label_type]
        assert (s.question == YESNO[label_type].format(label=label)) == (s.answer == "yes")


def test_deterministic_per_seed_and_independent_of_order():
    samples = labelled(100)
    a = {s.id: (s.options, s.answer) for s in run(samples, seed=1, label_space=SPACE)}
    b = {s.id: (s.options, s.answer) for s in run(samples[::-1], seed=1, label_space=SPACE)}
    c = {s.id: (s.options, s.answer) for s in run(samples, seed=2, label_space=SPACE)}
    assert a == b and a != c


def test_label_space_gathered_per_source_when_not_configured():
    samples = labelled(40, "first") + [
        Sample(id=f"o{i}", source="other", kind="caption", images=[b"other%d" % i], modality=m,
               messages=[{"role": "user", "content": "<image>\nx"}, {"role": "assistant", "content": "y"}])
        for i, m in enumerate(["Dermoscopy", "Endoscopy"] * 3)]
    out = run(samples, num_options=4)
    other = [s for s in out if s.source == "other" and s.kind == "mcq"]
    assert len(other) == 6  # modality only: these samples have no abnormality label
    assert all(set(s.options) == {"Dermoscopy", "Endoscopy"} for s in other)  # never another source's labels
    assert all(set(s.options) <= set(SPACE["modality"]) for s in out
               if s.source == "first" and s.kind == "mcq" and s.meta["label_type"] == "modality")


def test_single_valued_label_type_yields_no_question():
    samples = [Sample(id=f"s{i}", source="t", kind="caption", images=[b"%d" % i], modality="CT",
                      messages=[{"role": "user", "content": "<image>\nx"}, {"role": "assistant", "content": "y"}])
               for i in range(5)]
    syn = TemplateVQA(TEMPLATES, YESNO)
    assert list(syn(samples)) == []
    assert syn.stats["no_distractors:modality"] == 5


def test_demo_corpus_one_question_set_per_image():
    samples = list(demo_samples("train", seed=3, num_images=24, num_text=4, planted=False))
    syn = TemplateVQA(TEMPLATES, YESNO, demo_seed=3)
    out = list(syn(samples))
    assert len(out) == 24 * 4  # modality and abnormality, each as MCQ and yes/no
    assert all(s.meta["generator"] == "rule" and s.meta["synthesis"] == "template_vqa" for s in out)
    abnormal = {s.options[LETTERS.index(s.answer)] for s in out
                if s.kind == "mcq" and s.meta["label_type"] == "abnormality"}
    assert "no focal lesion" in abnormal and len(abnormal) > 2


def test_rejects_too_many_options():
    with pytest.raises(ValueError):
        TemplateVQA(TEMPLATES, num_options=11)
