"""Write MedEvalKit's judge prompt template, taken from your own MedEvalKit checkout, to a file for
`judge=medevalkit judge.prompt_file=<file>`.

    git clone https://github.com/alibaba-damo-academy/MedEvalKit
    python scripts/medevalkit_judge_prompt.py MedEvalKit medevalkit_judge_prompt.txt

We do not ship MedEvalKit's text: this calls MedEvalKit's own prompt builder with the placeholders
{question} {response} {answer} as its arguments and writes what it returns, byte for byte. It prints
the template's sha256 and whether it is the one the published numbers were judged with.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lingshu.evaluation.medevalkit import JUDGE_TEMPLATE_SHA256, judge_template_from  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkout", help="root of a MedEvalKit checkout (holds utils/utils.py)")
    ap.add_argument("out", nargs="?", default="medevalkit_judge_prompt.txt", help="template file to write")
    args = ap.parse_args(argv)
    try:
        template = judge_template_from(args.checkout)
    except (OSError, ValueError, SyntaxError) as exc:
        sys.exit(f"error: {exc}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(template.encode("utf-8"))
    digest = hashlib.sha256(template.encode("utf-8")).hexdigest()
    same = "the one the published numbers were judged with" if digest == JUDGE_TEMPLATE_SHA256 else \
        f"NOT the known MedEvalKit template ({JUDGE_TEMPLATE_SHA256[:16]}): your checkout changed it"
    print(f"wrote {out} (sha256 {digest[:16]}: {same}); use judge=medevalkit judge.prompt_file={out.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
