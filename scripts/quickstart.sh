#!/usr/bin/env bash
# The main job on the embedded default: set up, then run the daemon with a replay camera over the
# bundled sample photos; a simulated shutter takes one shot of each and styled instant photos land
# in the folder given (default ./photos). No camera, broker or printer needed.
# Usage: bash scripts/quickstart.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-photos}"
bash scripts/setup_env.sh tflite
exec .venv/bin/edgecam demo --out "$out"
