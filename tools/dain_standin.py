"""Stand-in DAIN weight archives, in the format of PaddleGAN's published ``DAIN_weight.tar``.

The real weights cannot be fetched in CI, so tests and the bench build archives of the same shape:

- a legacy (old-IR) Paddle inference program saved as ``DAIN_weight/model`` + combined ``DAIN_weight/params``;
- feed ``image`` float32 ``[2, 1, 3, -1, -1]`` (frame0, frame1; RGB 0..1; CHW);
- fetch target 0 ``[N, 1, 3, -1, -1]``: the N in-betweens at t = k/(N+1) (a second target holds the un-rectified
  average, as PaddleGAN's ``DAIN_slowmotion`` returns both);
- the network of PaddleGAN's ``applications/DAIN/networks/dain_slowmotion.py``: PWC-DC-Net flow (6-level feature
  pyramid, ``correlation`` ops with pad 4 / kernel 1 / max displacement 4 / strides 1, dense decoders, dilated
  context network), flow scaled by ``20.0`` then by the time constants ``k/(N+1)`` (forward) and their reverse
  (backward), bilinear x4 upsampling, both frames warped with ``grid_sampler``, averaged, and a residual
  ``MultipleBasicBlock_4`` refinement (13 -> 64 channels, 7x7 head, 3 basic blocks, 3x3 tail).

``size="full"`` uses the published layer sizes (pyramid 16-32-64-96-128-196, decoder dense blocks
128-128-96-64-32, context 128-128-128-96-64-32, refinement 64) with random weights: for the bench. ``size="tiny"``
keeps the topology (every op type, the same number of correlation ops) with a few channels: for CI.
Weights are drawn from a seeded generator in parameter-name order, so two stand-ins with the same seed and size and
different N share every weight (the time-mapping tests rely on it).

Usable as a module (``build_standin(path, n=1, size="tiny")``) or a script::

    python tools/dain_standin.py OUT.tar [--n 1] [--size tiny|full] [--seed 0] [--fused-time]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

SIZES = {
    "full": dict(pyramid=(16, 32, 64, 96, 128, 196), dense=(128, 128, 96, 64, 32),
                 context=(128, 128, 128, 96, 64, 32), rectify=64),
    "tiny": dict(pyramid=(4, 4, 6, 6, 8, 8), dense=(6, 6, 4, 4, 2), context=(6, 6, 6, 4, 4, 2), rectify=6),
}
MD = 4
DIV_FLOW = 20.0


def import_paddle():
    """Paddle in old-IR static mode (``FLAGS_enable_pir_api=0`` must be set before the first import).

    Under pytest, a missing paddle skips the calling test module, or fails it under CI (``CI=true``).
    """
    os.environ["FLAGS_enable_pir_api"] = "0"
    try:
        import paddle
    except ImportError:
        if "pytest" in sys.modules:
            import pytest

            reason = "needs paddlepaddle (pip install 'deepshop[dain]')"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"under CI the DAIN tests must run: {reason}", pytrace=False)
            pytest.skip(reason, allow_module_level=True)
        raise
    paddle.enable_static()
    return paddle


def _build_program(paddle, n: int, size: str, fused_time: bool, composed: bool = False):
    import paddle.nn as nn
    import paddle.nn.functional as F

    cfg = SIZES[size]
    pyr, dense, ctx = cfg["pyramid"], cfg["dense"], cfg["context"]
    nd = (2 * MD + 1) ** 2

    def lrelu(x):
        return F.leaky_relu(x, 0.1)

    # ---- PWC-DC-Net layers (shared by both directions) ----
    feat = []
    cin = 3
    for level, c in enumerate(pyr):
        feat.append([nn.Conv2D(cin, c, 3, 2, 1), nn.Conv2D(c, c, 3, 1, 1), nn.Conv2D(c, c, 3, 1, 1)])
        cin = c
    cum = [sum(dense[:i + 1]) for i in range(len(dense))]
    decoders = {}
    for lvl in (6, 5, 4, 3, 2):
        od = nd if lvl == 6 else nd + pyr[lvl - 1] + 4
        convs = [nn.Conv2D(od + (cum[i - 1] if i else 0), dense[i], 3, 1, 1) for i in range(len(dense))]
        pred = nn.Conv2D(od + cum[-1], 2, 3, 1, 1)
        up = (nn.Conv2DTranspose(2, 2, 4, 2, 1), nn.Conv2DTranspose(od + cum[-1], 2, 4, 2, 1)) if lvl > 2 else None
        decoders[lvl] = (convs, pred, up, od + cum[-1])
    dc = []
    cin = decoders[2][3]
    for c, dil in zip(ctx, (1, 2, 4, 8, 16, 1)):
        dc.append(nn.Conv2D(cin, c, 3, 1, dil, dilation=dil))
        cin = c
    dc.append(nn.Conv2D(cin, 2, 3, 1, 1))
    # ---- refinement: MultipleBasicBlock_4(13, rectify) ----
    rc = cfg["rectify"]
    r_head = nn.Conv2D(13, rc, 7, 1, 3)
    r_blocks = [(nn.Conv2D(rc, rc, 3, 1, 1, bias_attr=False), nn.Conv2D(rc, rc, 3, 1, 1, bias_attr=False))
                for _ in range(3)]
    r_tail = nn.Conv2D(rc, 3, 3, 1, 1)

    def grid_of(x):
        shp = paddle.shape(x)
        h, w = shp[2], shp[3]
        yy = paddle.arange(0, h, 1, "float32")
        xx = paddle.arange(0, w, 1, "float32")
        gy, gx = paddle.meshgrid(yy, xx)
        grid = paddle.unsqueeze(paddle.stack([gx, gy], 0), [0])
        return grid, paddle.cast(h, "float32"), paddle.cast(w, "float32")

    def grid_sample(x, g):
        # the public API takes the PIR path only; append the legacy op (as PaddleGAN's export has it)
        from paddle.base.layer_helper import LayerHelper

        helper = LayerHelper("grid_sampler")
        out = helper.create_variable_for_type_inference(x.dtype)
        helper.append_op(type="grid_sampler", inputs={"X": x, "Grid": g}, outputs={"Output": out},
                         attrs={"mode": "bilinear", "padding_mode": "zeros", "align_corners": True})
        return out

    def warp(x, flo, mask):
        grid, h, w = grid_of(x)
        v = grid + flo
        vx = 2.0 * paddle.slice(v, [1], [0], [1]) / (w - 1.0) - 1.0
        vy = 2.0 * paddle.slice(v, [1], [1], [2]) / (h - 1.0) - 1.0
        g = paddle.transpose(paddle.concat([vx, vy], 1), [0, 2, 3, 1])
        out = grid_sample(x, g)
        if not mask:
            return out
        m = grid_sample(paddle.ones_like(x), g)
        m = paddle.cast(m >= 0.999, "float32")
        return out * m

    def corr(a, b):
        attrs = dict(pad_size=MD, kernel_size=1, max_displacement=MD, stride1=1, stride2=1)
        if composed:  # the CPU composition built in directly: a reference for the rewrite of a whole network
            from deepshop_core.engines.dain.correlation import build_correlation

            return lrelu(build_correlation(a, b, **attrs))
        return lrelu(paddle.incubate.layers.correlation(a, b, corr_type_multiply=1, **attrs))

    def pwc(x6):
        ims = [paddle.slice(x6, [1], [0], [3]), paddle.slice(x6, [1], [3], [6])]
        pyramids = []
        for im in ims:
            levels, t = [], im
            for a, aa, b in feat:
                t = lrelu(b(lrelu(aa(lrelu(a(t))))))
                levels.append(t)
            pyramids.append(levels)
        c1, c2 = pyramids
        up_flow = up_feat = None
        for lvl, scale in ((6, None), (5, 0.625), (4, 1.25), (3, 2.5), (2, 5.0)):
            convs, pred, up, _ = decoders[lvl]
            if lvl == 6:
                x = corr(c1[5], c2[5])
            else:
                w2 = warp(c2[lvl - 1], up_flow * scale, mask=True)
                x = paddle.concat([corr(c1[lvl - 1], w2), c1[lvl - 1], up_flow, up_feat], 1)
            for conv in convs:
                x = paddle.concat([lrelu(conv(x)), x], 1)
            flow = pred(x)
            if up is not None:
                up_flow, up_feat = up[0](flow), up[1](x)
        t = x
        for conv in dc[:4]:
            t = lrelu(conv(t))
        t = lrelu(dc[5](lrelu(dc[4](t))))
        return flow + dc[6](t)

    def rectify(x):
        x = F.relu(r_head(x))
        for c1_, c2_ in r_blocks:
            x = F.relu(c2_(F.relu(c1_(x))) + x)
        return r_tail(x)

    image = paddle.static.data("image", [2, 1, 3, -1, -1], "float32")
    i0, i2 = image[0], image[1]
    step = 1.0 / (n + 1)
    offsets = [k * step for k in range(1, n + 1)]

    def flows(x6, times):
        f = pwc(x6)
        if fused_time:  # one constant per time: not a retimable signature (tests the fallback)
            out = [f * (DIV_FLOW * t) for t in times]
        else:
            out = [f * DIV_FLOW * t for t in times]
        return [F.interpolate(o, scale_factor=4, mode="bilinear", align_corners=True) for o in out]

    fwd = flows(paddle.concat([i0, i2], 1), offsets)
    bwd = flows(paddle.concat([i2, i0], 1), offsets[::-1])
    plain, rect = [], []
    for f, b in zip(fwd, bwd):
        ref0 = warp(i0, f, mask=False)
        ref2 = warp(i2, b, mask=False)
        avg = (ref0 + ref2) / 2.0
        plain.append(paddle.unsqueeze(avg, [0]))
        rect.append(paddle.unsqueeze(rectify(paddle.concat([avg, ref0, ref2, f, b], 1)) + avg, [0]))
    out = paddle.concat(rect, 0) if n > 1 else rect[0]
    out_plain = paddle.concat(plain, 0) if n > 1 else plain[0]
    return image, out, out_plain


def build_standin(path: str | os.PathLike, n: int = 1, size: str = "tiny", seed: int = 0,
                  fused_time: bool = False, layout: str = "tar", composed: bool = False) -> Path:
    """Write a stand-in archive (``layout="tar"``: ``path`` is the .tar) or folder (``"dir"``: ``path`` is the
    folder that will hold ``model`` and ``params``). Returns ``path``.

    ``composed=True`` builds the correlation from standard ops instead of ``correlation`` ops (a CPU-runnable
    reference for the rewrite); ``fused_time=True`` multiplies the flow by one constant ``20 t`` (no retimable
    signature: exercises the refinement fallback).
    """
    import numpy as np

    paddle = import_paddle()
    from paddle.utils import unique_name

    path = Path(path)
    main, startup = paddle.static.Program(), paddle.static.Program()
    scope = paddle.static.Scope()
    with unique_name.guard(), paddle.static.program_guard(main, startup), paddle.static.scope_guard(scope):
        image, out, out_plain = _build_program(paddle, n, size, fused_time, composed)
        exe = paddle.static.Executor(paddle.CPUPlace())
        exe.run(startup)
        rng = np.random.default_rng(seed)
        for p in sorted(main.all_parameters(), key=lambda v: v.name):
            shape = tuple(p.shape)
            t = scope.find_var(p.name).get_tensor()
            if len(shape) == 1:  # biases
                value = rng.normal(0.0, 0.01, shape)
            else:
                fan_in = int(np.prod(shape[1:]))
                if p.name.startswith("conv2d_transpose"):
                    fan_in = int(shape[0] * shape[2] * shape[3] / 4)
                value = rng.normal(0.0, 0.5 / np.sqrt(fan_in), shape)
            t.set(value.astype(np.float32), paddle.CPUPlace())
        with tempfile.TemporaryDirectory() as tmp:
            prefix = os.path.join(tmp, "inference")
            paddle.static.save_inference_model(prefix, [image], [out, out_plain], exe, program=main)
            folder = Path(tmp) / "DAIN_weight"
            folder.mkdir()
            os.replace(prefix + ".pdmodel", folder / "model")
            os.replace(prefix + ".pdiparams", folder / "params")
            if layout == "dir":
                if path.exists():
                    shutil.rmtree(path)
                shutil.copytree(folder, path)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                part = path.with_name(path.name + ".part")
                with tarfile.open(part, "w") as tar:
                    tar.add(folder, arcname="DAIN_weight")
                os.replace(part, path)
    return path


def write_tar(path: str | os.PathLike, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    """A tar with hand-made members (for the unsafe-archive tests)."""
    path = Path(path)
    with tarfile.open(path, "w") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=1)
    ap.add_argument("--size", choices=sorted(SIZES), default="tiny")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fused-time", action="store_true")
    ap.add_argument("--layout", choices=("tar", "dir"), default="tar")
    ap.add_argument("--composed", action="store_true")
    a = ap.parse_args(argv)
    print(build_standin(a.out, a.n, a.size, a.seed, a.fused_time, a.layout, a.composed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
