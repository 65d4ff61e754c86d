"""The CPU rewrite of Paddle's ``correlation`` op equals an independent reference implementation.

The reference below is a direct loop transcription of the FlowNet/PWC-Net cost volume as Paddle's CUDA kernel
computes it (pad, displacement grid, k x k window, channel mean), written without any code from
``deepshop_core.engines.dain.correlation``. Inputs are random; several attribute settings; max abs difference <= 1e-5.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tools.dain_standin import import_paddle

paddle = import_paddle()

# Paddle's static-graph API warns about its own deprecations on every op: not this project's business.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning")]

from deepshop_core.engines.dain import correlation  # noqa: E402

SETTINGS = [
    # (pad_size, kernel_size, max_displacement, stride1, stride2, H, W)
    (4, 1, 4, 1, 1, 9, 12),  # PWC-Net (DAIN): 81 channels
    (4, 1, 4, 1, 2, 10, 7),  # coarser displacement grid: 25 channels
    (2, 1, 2, 2, 1, 11, 9),  # strided output positions
    (0, 1, 2, 1, 2, 12, 10),  # no padding: output smaller than input
    (3, 3, 2, 1, 1, 8, 9),  # 3x3 patch comparison
    (5, 3, 4, 2, 2, 11, 14),  # everything at once
    (1, 5, 1, 1, 1, 9, 8),  # window reaching outside the padded input (zero)
]


def reference_correlation(x1, x2, pad_size, kernel_size, max_displacement, stride1, stride2):
    x1 = np.asarray(x1, np.float64)
    x2 = np.asarray(x2, np.float64)
    b, c, h, w = x1.shape
    r = (kernel_size - 1) // 2
    radius = max_displacement // stride2
    grid = 2 * radius + 1
    ph, pw = h + 2 * pad_size, w + 2 * pad_size
    oh = math.ceil((ph - 2 * (max_displacement + r)) / stride1)
    ow = math.ceil((pw - 2 * (max_displacement + r)) / stride1)
    p1 = np.zeros((b, c, ph, pw))
    p2 = np.zeros((b, c, ph, pw))
    p1[:, :, pad_size:pad_size + h, pad_size:pad_size + w] = x1
    p2[:, :, pad_size:pad_size + h, pad_size:pad_size + w] = x2

    def at(p, y, x):
        if 0 <= y < ph and 0 <= x < pw:
            return p[:, :, y, x]
        return np.zeros((b, c))

    out = np.zeros((b, grid * grid, oh, ow))
    for y in range(oh):
        for x in range(ow):
            y1 = y * stride1 + max_displacement
            x1_ = x * stride1 + max_displacement
            for tj in range(-radius, radius + 1):
                for ti in range(-radius, radius + 1):
                    acc = np.zeros(b)
                    for j in range(-r, r + 1):
                        for i in range(-r, r + 1):
                            v1 = at(p1, y1 + j, x1_ + i)
                            v2 = at(p2, y1 + j + tj * stride2, x1_ + i + ti * stride2)
                            acc += (v1 * v2).sum(axis=1)
                    out[:, (tj + radius) * grid + (ti + radius), y, x] = acc / (kernel_size * kernel_size * c)
    return out


def _program(channels, attrs, native):
    main, startup = paddle.static.Program(), paddle.static.Program()
    with paddle.static.program_guard(main, startup):
        a = paddle.static.data("a", [-1, channels, -1, -1], "float32")
        b = paddle.static.data("b", [-1, channels, -1, -1], "float32")
        if native:
            out = paddle.incubate.layers.correlation(a, b, corr_type_multiply=1, **attrs)
        else:
            out = correlation.build_correlation(a, b, **attrs)
        out = out * 1.0  # a consumer, so the rewrite must keep the output var name wired
    return main, out


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: "p{}k{}d{}s{}s{}_{}x{}".format(*s))
def test_rewrite_matches_reference(setting):
    pad, k, md, s1, s2, h, w = setting
    attrs = dict(pad_size=pad, kernel_size=k, max_displacement=md, stride1=s1, stride2=s2)
    rng = np.random.default_rng(hash(setting) % 2**32)
    x1 = rng.standard_normal((2, 5, h, w)).astype(np.float32)
    x2 = rng.standard_normal((2, 5, h, w)).astype(np.float32)
    expected = reference_correlation(x1, x2, **attrs)
    assert expected.shape[1:] == correlation.output_size(h, w, **attrs)

    main, out = _program(5, attrs, native=True)
    assert [op.type for op in main.global_block().ops].count("correlation") == 1
    assert correlation.rewrite_correlation_ops(main) == 1
    assert "correlation" not in [op.type for op in main.global_block().ops]
    exe = paddle.static.Executor(paddle.CPUPlace())
    (got,) = exe.run(main, feed={"a": x1, "b": x2}, fetch_list=[out])
    assert got.shape == expected.shape
    assert np.max(np.abs(got - expected)) <= 1e-5


def test_native_op_has_no_cpu_kernel():
    """Why the rewrite exists: the unmodified op refuses to run on CPU."""
    attrs = dict(pad_size=4, kernel_size=1, max_displacement=4, stride1=1, stride2=1)
    main, out = _program(3, attrs, native=True)
    x = np.zeros((1, 3, 8, 8), np.float32)
    with pytest.raises(Exception, match="(?i)gpu"):
        paddle.static.Executor(paddle.CPUPlace()).run(main, feed={"a": x, "b": x}, fetch_list=[out])
