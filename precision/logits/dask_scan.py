"""The shards of a logits dump spread over a Dask cluster: one task per shard (`scan_shard`), results (statistics
and token records, about 17 bytes per token and dtype) sent back to the caller, who writes and merges them.

`scheduler="dask"` starts a local cluster on 127.0.0.1 (one single-threaded worker process per core, at most one
per shard) and closes it afterwards; `tcp://HOST:PORT` (or any Dask address) uses a running cluster, whose workers
must be able to open the shard paths. Dask is optional: `pip install 'softmax-saturation[scale]'`.
"""
from __future__ import annotations

import functools
import os
import socket
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import numpy as np

from precision.common.errors import InputError
from precision.kernels.registry import KERNELS, Kernel, KernelError, get_kernel
from precision.kernels.user_call import one_line
from precision.logits.shard_scan import scan_shard
from precision.logits.shards import SCALE_EXTRA, Shard
from precision.logits.summary import DtypeStatistics


def check_scheduler(scheduler: str | None) -> str | None:
    """None (one process), "dask" (a local cluster) or a scheduler address tcp://HOST:PORT (or tls://)."""
    if scheduler is None or scheduler == "dask":
        return scheduler
    try:
        address = urlsplit(scheduler)
        port = address.port
    except ValueError:
        port = None
    if address.scheme not in ("tcp", "tls") or not address.hostname or port is None or \
            address.path not in ("", "/") or address.query or address.fragment:
        raise InputError("scheduler", f"expected dask (a local cluster) or a scheduler address tcp://HOST:PORT, "
                                      f"got {scheduler!r}")
    return scheduler


REBUILD_S = 60  # a worker unpickles a kernel in well under a second; a cluster still starting gets a minute
REACH_S = 5  # a scheduler that does not accept a connection within this is refused (Dask itself waits 30 s)


def _reachable(scheduler: str) -> None:
    """Refuse at once a scheduler address nothing listens at (Dask's own client retries for 30 s)."""
    address = urlsplit(scheduler)
    try:
        socket.create_connection((address.hostname, address.port), timeout=REACH_S).close()
    except OSError as e:
        raise InputError("scheduler", f"cannot reach the Dask scheduler at {scheduler}: "
                                      f"{e.strerror or type(e).__name__}") from None


def _distributed():
    try:
        import distributed
    except ImportError:
        raise InputError("scheduler", f"--scheduler needs the dask[distributed] package: {SCALE_EXTRA}") from None
    return distributed


@contextmanager
def dask_client(scheduler: str, workers: int | None = None) -> Iterator[Any]:
    """A Dask client: on a local cluster on 127.0.0.1 ("dask"), or on the cluster at an address; closed after."""
    distributed = _distributed()
    cluster = None
    try:
        if scheduler == "dask":
            n = workers or max(1, os.cpu_count() or 1)
            cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                                               dashboard_address="127.0.0.1:0", silence_logs=40)
            client = distributed.Client(cluster)
        else:
            _reachable(scheduler)
            try:
                client = distributed.Client(scheduler, timeout=30)
            except (OSError, TimeoutError) as e:
                raise InputError("scheduler", f"cannot reach the Dask scheduler at {scheduler}: {e}") from None
        try:
            yield client
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


def with_worker_threads(torch_used: bool, call: Callable[[], Any]) -> Any:
    """`call()` on a Dask worker, torch's threads matched to the worker's for it where torch is used, then set
    back (a user's cluster keeps its own setting); elsewhere simply `call()`."""
    try:
        from distributed import get_worker
        threads = get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        threads = None
    if not (threads and torch_used):
        return call()
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return call()
    finally:
        torch.set_num_threads(before)


def _task(shard: Shard, dtypes, kernel, device: str) -> tuple[dict[str, DtypeStatistics], np.ndarray]:
    """One shard on a worker (`with_worker_threads`), the kernel rebuilt from what `_shipped` sent."""
    kernel = _rebuilt(kernel)
    stats, records = with_worker_threads(kernel.package == "torch", lambda: scan_shard(shard, dtypes, kernel, device))
    assert records is not None  # no sink: the records come back whole
    return stats, records


def _rebuilt(spec: str | bytes | Kernel) -> Kernel:
    """The kernel on a worker, from what `_shipped` sent."""
    if isinstance(spec, bytes):
        return _unpickled(spec)
    return get_kernel(spec) if isinstance(spec, str) else spec


@functools.lru_cache(maxsize=4)
def _unpickled(spec: bytes) -> Kernel:
    """A shipped user kernel, unpickled once per worker process, not once per shard (so its module's state lives as
    long as it does in one process)."""
    import cloudpickle
    return cloudpickle.loads(spec)


def _rebuilt_name(spec: str | bytes) -> str:
    return _rebuilt(spec).name


def _check_workers_rebuild(client, spec: str | bytes, name: str) -> None:
    """One small task on every worker first: a kernel the workers cannot rebuild is refused in one line within
    REBUILD_S, never a run that waits for ever."""
    try:
        client.wait_for_workers(1, timeout=REBUILD_S)
        checks = [client.submit(_rebuilt_name, spec, workers=[w], allow_other_workers=False, pure=False)
                  for w in client.scheduler_info()["workers"]]
        _distributed().wait(checks, timeout=REBUILD_S)
        for check in checks:
            check.result()
    except Exception as e:  # the worker's own error, or a timeout
        raise KernelError("kernel", f"{name}: the Dask workers cannot rebuild this kernel within {REBUILD_S} s "
                          f"({one_line(e) or type(e).__name__}); install its module where the workers run") from None


def _shipped(kernel: Kernel) -> str | bytes:
    """What a worker rebuilds the kernel from: a registry kernel's name; a user's kernel pickled with its module's
    code by value (cloudpickle), so that a module of the current folder, on no worker's path, still runs there
    (by reference the workers cannot import it and wait for ever)."""
    if KERNELS.get(kernel.name) is kernel:
        return kernel.name
    import cloudpickle
    module = sys.modules.get(kernel.name.partition(":")[0].partition(".")[0]) if ":" in kernel.name else None
    if module is None or getattr(module, "__file__", None) is None:
        return cloudpickle.dumps(kernel)
    cloudpickle.register_pickle_by_value(module)
    try:
        return cloudpickle.dumps(kernel)
    finally:  # cloudpickle's registry is process-wide: put it back as it was
        cloudpickle.unregister_pickle_by_value(module)


def scan_with_dask(shards: list[Shard], dtypes, kernel: Kernel, device: str, scheduler: str,
                   workers: int | None = None) -> Iterator[tuple[int, dict[str, DtypeStatistics], np.ndarray]]:
    """(shard index, statistics, token records) per shard, as the cluster finishes them."""
    distributed = _distributed()
    spec = _shipped(kernel)
    with dask_client(scheduler, workers or (min(len(shards), os.cpu_count() or 1) if scheduler == "dask" else None)
                     ) as client:
        _check_workers_rebuild(client, spec, kernel.name)
        futures = {client.submit(_task, shard, tuple(dtypes), spec, device, pure=False): i
                   for i, shard in enumerate(shards)}
        try:
            for future in distributed.as_completed(list(futures)):
                stats, records = future.result()
                index = futures.pop(future)
                future.release()  # the worker may drop this shard's records now
                yield index, stats, records
        finally:
            if futures:
                client.cancel(list(futures))
