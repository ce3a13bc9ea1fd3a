#!/usr/bin/env bash
# Set up (system packages + .venv) and run the whole test suite and the linter.
# Usage: bash scripts/test.sh [PYTEST ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh dev
.venv/bin/ruff check .
.venv/bin/python scripts/export_models.py --check
exec .venv/bin/python -m pytest -q "$@"
