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


def write_glitched_ts(path: Path, frames: int = 40) -> Path:
    """An MPEG-TS clip (H.264, 160x96, 25 fps) with one broken continuity counter in the middle of its video, as a
    broadcast recording with a reception glitch has: FFmpeg flags the frames around it corrupt and decodes on."""
    with av.open(str(path), "w", format="mpegts") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        for i in range(frames):
            image = np.full((96, 160, 3), (i * 6) % 255, np.uint8)
            image[:, (i * 3) % 160] = 255
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
    data = bytearray(path.read_bytes())
    packets = [data[k:k + 188] for k in range(0, len(data), 188)]
    pids: dict[int, list[int]] = {}
    for k, packet in enumerate(packets):
        pids.setdefault(((packet[1] & 0x1F) << 8) | packet[2], []).append(k)
    video = pids[max(pids, key=lambda pid: len(pids[pid]))]  # the video's PID has the most packets
    at = video[len(video) // 2] * 188 + 3  # its continuity counter: the low 4 bits of byte 3
    data[at] = (data[at] & 0xF0) | ((data[at] + 5) & 0x0F)
    path.write_bytes(data)
    return path
