"""What only the ComfyUI tests use: their harness, the test ComfyUIs' set-up scripts, and the scripts that run inside
a test ComfyUI's own venv (see docs/ARCHITECTURE.md, Tests)."""
