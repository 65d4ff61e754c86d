"""PWC-Net/FlowNet ``correlation`` for Paddle programs on CPU: a composition of standard operators.

Paddle's ``correlation`` operator (the cost volume of PWC-Net, used by PaddleGAN's DAIN) has only a CUDA kernel; on
CPU it raises "Correlation only supports GPU now". :func:`rewrite_correlation_ops` replaces every ``correlation``
op of a loaded legacy (old-IR) program by an equivalent sub-graph of operators that all have CPU kernels
(``pad3d``, ``strided_slice``/``slice``, ``elementwise_mul``, ``reduce_mean``, ``pool2d``, ``concat``, ``assign``),
so the same program runs on CPU.

Semantics reproduced (those of Paddle's CUDA kernel, phi ``correlation_forward``, itself FlowNet2's): with
``P = pad_size``, ``k = kernel_size``, ``r = (k - 1) // 2``, ``md = max_displacement``, ``s1 = stride1``,
``s2 = stride2``, ``R = md // s2``, both inputs ``[B, C, H, W]`` are zero-padded by ``P`` (``Hp = H + 2P``), and::

    OH = ceil((Hp - 2 * (md + r)) / s1)            (OW likewise)
    out[b, (dy + R) * (2R + 1) + (dx + R), y, x] =
        1 / (k * k * C) * sum_{c, j, i in [-r, r]} x1p[b, c, h1 + j, w1 + i] * x2p[b, c, h1 + j + dy*s2, w1 + i + dx*s2]
    with h1 = y * s1 + md, w1 = x * s1 + md, dy, dx in [-R, R]

(reads outside the padded input count as zero; the CUDA kernel only gets there for ``k > 1`` at the top/left
border). PWC-Net uses P = 4, k = 1, md = 4, s1 = s2 = 1: 81 channels.

The rewrite, per displacement ``(dy, dx)``: slice the (extra zero-padded) inputs at the two offsets, multiply,
average over channels, and for ``k > 1`` average over the ``k x k`` window with an average pool of stride ``s1``;
concatenate the ``(2R + 1)^2`` maps in the kernel's channel order. All slice ends are expressed relative to the
input size, so the rewritten program keeps dynamic ``H``/``W``. ``tests/test_dain_correlation.py`` compares it with
an independent loop implementation of the formula above (max abs difference <= 1e-5).

Paddle is imported only inside these functions (the caller is the DAIN worker process, or a test).
"""

from __future__ import annotations

ATTRS = ("pad_size", "kernel_size", "max_displacement", "stride1", "stride2")
_BIG = 2**31 - 1  # "to the end" for slice ends


def output_size(height: int, width: int, pad_size: int, kernel_size: int, max_displacement: int, stride1: int,
                stride2: int, **_ignored) -> tuple[int, int, int]:
    """(channels, out_height, out_width) of a correlation of ``[B, C, height, width]`` inputs."""
    r = (kernel_size - 1) // 2
    border = max_displacement + r
    radius = max_displacement // stride2
    ph, pw = height + 2 * pad_size, width + 2 * pad_size
    oh = -(-(ph - 2 * border) // stride1)
    ow = -(-(pw - 2 * border) // stride1)
    return (2 * radius + 1) ** 2, oh, ow


def build_correlation(x1, x2, pad_size: int, kernel_size: int, max_displacement: int, stride1: int, stride2: int):
    """Append, to the current static program, ops computing ``correlation(x1, x2, ...)``; return the output var."""
    import paddle
    import paddle.nn.functional as F

    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"correlation kernel_size must be odd and >= 1, got {kernel_size}")
    if stride1 < 1 or stride2 < 1 or max_displacement < 0 or pad_size < 0:
        raise ValueError("correlation needs stride1, stride2 >= 1 and pad_size, max_displacement >= 0")
    r = (kernel_size - 1) // 2
    md, s1, s2 = max_displacement, stride1, stride2
    radius = md // s2
    e = r  # extra zero margin: the window may reach r beyond the padded input at the top/left
    q = pad_size + e
    if q:
        x1 = F.pad(x1, [q, q, q, q], mode="constant", value=0.0)
        x2 = F.pad(x2, [q, q, q, q], mode="constant", value=0.0)

    def end(off: int) -> int:
        # In extra-padded coordinates the window rows of x1 run over [md, Hq - 2e - md): as a slice end relative to
        # the size: -(2e + md - off) for x2 shifted by off; 0 means "to the end".
        rel = -(2 * e + md - off)
        return rel if rel < 0 else _BIG

    maps = []
    if kernel_size == 1:
        a = paddle.strided_slice(x1, axes=[2, 3], starts=[md, md], ends=[end(0), end(0)], strides=[s1, s1])
    else:
        a = paddle.slice(x1, axes=[2, 3], starts=[md, md], ends=[end(0), end(0)])
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            oy, ox = dy * s2, dx * s2
            if kernel_size == 1:
                b = paddle.strided_slice(x2, axes=[2, 3], starts=[md + oy, md + ox], ends=[end(oy), end(ox)],
                                         strides=[s1, s1])
                maps.append(paddle.mean(a * b, axis=1, keepdim=True))
            else:
                b = paddle.slice(x2, axes=[2, 3], starts=[md + oy, md + ox], ends=[end(oy), end(ox)])
                m = paddle.mean(a * b, axis=1, keepdim=True)
                maps.append(F.avg_pool2d(m, kernel_size=kernel_size, stride=s1, padding=0, exclusive=False))
    return paddle.concat(maps, axis=1) if len(maps) > 1 else maps[0]


def rewrite_correlation_ops(program) -> int:
    """Replace every ``correlation`` op of ``program`` (old IR) in place; return how many were replaced."""
    import paddle
    from paddle.base.framework import Operator
    from paddle.utils import unique_name

    count = 0
    for block in program.blocks:
        i = 0
        while i < len(block.ops):
            op = block.ops[i]
            if op.type != "correlation":
                i += 1
                continue
            in1, in2 = op.input("Input1")[0], op.input("Input2")[0]
            out = op.output("Output")[0]
            attrs = {name: int(op.attr(name)) for name in ATTRS}
            scratch = paddle.static.Program()
            # Build the composition in a scratch program. Its inputs/output get reserved names (generated names
            # such as "tmp_12" could equal the real ones), mapped back to the real names when the ops are copied.
            real = {"deepshop_corr_in1": in1, "deepshop_corr_in2": in2, "deepshop_corr_out": out}
            with paddle.static.program_guard(scratch, paddle.static.Program()), unique_name.guard():
                sb = scratch.global_block()
                made = {}
                for alias, name in real.items():
                    v = block.var(name)
                    shape = list(v.shape) if len(v.shape) == 4 else [-1, -1, -1, -1]  # rank may be unrecorded
                    made[alias] = sb.create_var(name=alias, shape=shape, dtype=v.dtype, persistable=False)
                result = build_correlation(made["deepshop_corr_in1"], made["deepshop_corr_in2"], **attrs)
                paddle.assign(result, output=made["deepshop_corr_out"])
            block._remove_op(i)
            new_ops = scratch.global_block().ops
            # every other var the scratch ops create goes into a namespace of this rewrite
            renames = dict(real)
            for sop in new_ops:
                for name in sop.output_arg_names:
                    if name not in renames:
                        renames[name] = f"deepshop_corr{count}.{name}"
            for j, sop in enumerate(new_ops):
                for name in sop.output_arg_names:
                    new_name = renames[name]
                    if not block.has_var(new_name):
                        v = sb.var(name)
                        block.create_var(name=new_name, shape=v.shape, dtype=v.dtype, persistable=False)
                desc = block.desc._insert_op(i + j)
                desc.copy_from(sop.desc)
                for slot in desc.input_names():  # slot by slot, so that renames never chain
                    desc.set_input(slot, [renames.get(n, n) for n in desc.input(slot)])
                for slot in desc.output_names():
                    desc.set_output(slot, [renames.get(n, n) for n in desc.output(slot)])
                block.ops.insert(i + j, Operator(block, desc))
            i += len(new_ops)
            count += 1
    return count
