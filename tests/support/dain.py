"""DAIN stand-in archives, built once a session: a pytest plugin of tests/conftest.py.

``dain_standins(name)`` is the path of a stand-in of PaddleGAN's published weights (the real file format, random
weights; tools/dain_standin.py), tiny, seed 7: ``"n1"`` (DAIN_weight.tar as published: one in-between), ``"n2"``
(two, unpacked into a folder), ``"fused"`` (a time factor fused into the graph: no retimable signature) and
``"composed"`` (the correlation from standard ops: a CPU reference for the rewrite). Building needs Paddle: without
it the test skips (fails under CI).
"""

from __future__ import annotations

import pytest

KINDS = {
    "n1": dict(n=1),
    "n2": dict(n=2, layout="dir"),
    "fused": dict(n=1, fused_time=True),
    "composed": dict(n=1, layout="dir", composed=True),
}


@pytest.fixture(scope="session")
def dain_standins(tmp_path_factory):
    from tools.dain_standin import build_standin, import_paddle

    root = tmp_path_factory.mktemp("dain_standins")
    built = {}

    def get(name: str):
        if name not in built:
            import_paddle()
            kind = KINDS[name]
            path = root / (name if kind.get("layout") == "dir" else f"{name}.tar")
            built[name] = build_standin(path, size="tiny", seed=7, **kind)
        return built[name]

    return get
