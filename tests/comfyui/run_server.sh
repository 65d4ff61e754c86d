#!/usr/bin/env bash
# Start a test ComfyUI (prepared by setup_env.sh) by hand, in the foreground: tests/comfyui/run_server.sh [port]
# Extra arguments go to ComfyUI's main.py (e.g. --input-directory DIR). DEEPSHOP_COMFYUI_VERSION=0.33.0 starts the
# 0.33.0 tree (setup_env.sh 0.33.0) instead of 0.3.75.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
case "${DEEPSHOP_COMFYUI_VERSION:-0.3.75}" in
    0.3.75) BASE="${DEEPSHOP_COMFYUI_DIR:-$ROOT/.cache/comfyui}" ;;  # override to build elsewhere
    0.33.0) BASE="${DEEPSHOP_COMFYUI_0_33_0_DIR:-$ROOT/.cache/comfyui-0.33.0}" ;;
    *) echo "DEEPSHOP_COMFYUI_VERSION must be 0.3.75 or 0.33.0" >&2; exit 2 ;;
esac
[[ -x "$BASE/venv/bin/python" && -f "$BASE/ComfyUI/main.py" ]] || { echo "run tests/comfyui/setup_env.sh first" >&2; exit 1; }
PORT="${1:-8188}"; shift || true
cd "$BASE/ComfyUI"
export PYTHONPATH="$BASE/stubs${PYTHONPATH:+:$PYTHONPATH}"
exec "$BASE/venv/bin/python" main.py --cpu --listen 127.0.0.1 --port "$PORT" --disable-auto-launch --disable-api-nodes "$@"
