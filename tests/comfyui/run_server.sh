#!/usr/bin/env bash
# Start the test ComfyUI (prepared by setup_env.sh) by hand, in the foreground: tests/comfyui/run_server.sh [port]
# Extra arguments go to ComfyUI's main.py (e.g. --input-directory DIR).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BASE="${DEEPSHOP_COMFYUI_DIR:-$ROOT/.cache/comfyui}"  # override to build elsewhere
[[ -x "$BASE/venv/bin/python" && -f "$BASE/ComfyUI/main.py" ]] || { echo "run tests/comfyui/setup_env.sh first" >&2; exit 1; }
PORT="${1:-8188}"; shift || true
cd "$BASE/ComfyUI"
export PYTHONPATH="$BASE/stubs${PYTHONPATH:+:$PYTHONPATH}"
exec "$BASE/venv/bin/python" main.py --cpu --listen 127.0.0.1 --port "$PORT" --disable-auto-launch --disable-api-nodes "$@"
