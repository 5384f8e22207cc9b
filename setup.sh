#!/usr/bin/env bash
# Idempotent setup: a project venv in .venv with the CPU torch wheel and the project installed.
# Re-running on an existing venv takes seconds.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
    .venv/bin/pip install -q --upgrade pip
fi
# torch first, pinned: an open requirement would pull a multi-GB CUDA build on a CPU machine.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    .venv/bin/pip install -q torch==2.13.0
fi
.venv/bin/pip install -q -e ".[dev]"
# Headless Chromium for the dashboard rendering test (Debian package; skipped if already there).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "setup.sh: could not install chromium; the browser test will fail" >&2
fi
