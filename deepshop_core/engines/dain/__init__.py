"""The ``dain`` engine as one package: PaddleGAN's DAIN weights run with PaddlePaddle in a worker process.

- ``engine``: the caller's side (:class:`DainEngine`, the per-process worker's life, shared memory, cancel, errors);
- ``worker``: the Paddle worker process (padding, time mapping, the program, its commands);
- ``correlation``: Paddle's GPU-only ``correlation`` op rewritten into standard operators, so DAIN runs on a CPU;
- ``weights``: finding, downloading, unpacking and validating the weights.

Importing this package imports neither paddle nor the worker (paddle is imported only in the worker process).
"""

from .engine import DainEngine, parse_device, shutdown_worker, worker_pid

__all__ = ["DainEngine", "parse_device", "shutdown_worker", "worker_pid"]
