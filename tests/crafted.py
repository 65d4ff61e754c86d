"""Small media files crafted with PyAV for the tests (the clips with pictures come from deepshop_core.synthetic)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def write_audio_only(path: Path) -> Path:
    """0.1 s of silent mono AAC and no video stream: a file Deepshop must refuse as "not a video"."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=48000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 4800), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
