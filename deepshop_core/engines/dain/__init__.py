"""The ``dain`` engine as one package: PaddleGAN's DAIN weights run with PaddlePaddle in a worker process.

- ``engine``: the caller's side (:class:`DainEngine`: options, devices, one pair at a time through the worker);
- ``process``: the per-process worker's life seen from the caller (start, shared memory, requests, cancel, death);
- ``worker``: the Paddle worker process (the program, its commands); ``timemap``: its pure parts (padding, times);
- ``correlation``: Paddle's GPU-only ``correlation`` op rewritten into standard operators, so DAIN runs on a CPU;
- ``weights``: finding, downloading, unpacking and validating the weights.

Importing this package imports neither paddle nor the worker (paddle is imported only in the worker process).
"""

from .engine import DainEngine, paddle_device
from .process import shutdown_worker, worker_pid

__all__ = ["DainEngine", "paddle_device", "shutdown_worker", "worker_pid"]
