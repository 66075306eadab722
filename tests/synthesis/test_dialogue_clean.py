from lingshu.schema import Sample
from lingshu.synthesis import Reject, apply
from lingshu.synthesis.dialogue_clean import DialogueClean

from .helpers import user_text


def dialogue(i: int, *answers: str) -> Sample:
    messages = []
    for n, a in enumerate(answers):
        messages += [{"role": "user", "content": f"Patient question {n}"}, {"role": "assistant", "content": a}]
    return Sample(id=f"d{i}", source="chat", kind="dialogue", messages=messages)


def script(body):
    text = user_text(body)
    response = text.split("Doctor's response:\n", 1)[1].split("\n\nRules", 1)[0]
    greedy = body["temperature"] == 0
    if "NOPREFIX" in response or ("ONCE" in response and greedy):
        return f"Here is the rewrite: {response}"
    return f"Revised response: cleaned {response}. See a cardiologist. This is not medical advice."


def test_prefix_required_and_clean_dialogue_replaces_original(server, engine, tmp_path):
    server.script = script
    other = Sample(id="t0", source="chat", kind="text", messages=[{"role": "user", "content": "hi"}])
    samples = [dialogue(0, "Hi John, take 5 mg of X.", "Dr. Smith here."), dialogue(1, "ONCE answer"),
               dialogue(2, "fine", "NOPREFIX answer"), other]
    syn = DialogueClean(engine, cache_path=tmp_path / "c.sqlite", retries=2)
    out = list(apply({"dialogue_clean": syn}, samples))
    ids = [o.id for o in out]
    assert "d0" not in ids and "t0" in ids  # originals of accepted dialogues leave the stream

    clean = next(o for o in out if o.id == "d0-clean")
    assert [m["content"] for m in clean.messages if m["role"] == "assistant"] == [
        "cleaned Hi John, take 5 mg of X.. See a cardiologist. This is not medical advice.",
        "cleaned Dr. Smith here.. See a cardiologist. This is not medical advice."]
    assert [m for m in clean.messages if m["role"] == "user"] == [m for m in samples[0].messages if m["role"] == "user"]
    assert next(o for o in out if o.id == "d1-clean").messages[1]["content"].startswith("cleaned ONCE")

    reject = next(o for o in out if isinstance(o, Reject))
    assert reject.id == "d2" and reject.reason == "missing prefix 'Revised response:'"
    assert reject.raw.startswith("Here is the rewrite")
    # the second turn of d0 sees the first turn as context
    assert any("Patient: Patient question 0\nDoctor: Hi John" in user_text(b) for b in server.bodies)
    # turns: 2 + 1 + 2, plus one retry for ONCE and two for NOPREFIX
    assert server.count == 5 + 1 + 2
