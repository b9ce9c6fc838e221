"""The distributed engine: keyed tasks on a Dask distributed cluster, merged by key.

A job is one function ``fn`` and a mapping ``key -> args``; task ``key`` computes
``fn(*args, **shared)``. ``shared`` holds the large inputs every task needs (the network, the
images): they are sent to each worker once, not once per task. :func:`run_tasks` runs the job

* in this process, one task after another, in key order (``workers=0``): the reference;
* on a local cluster of ``workers`` processes started here and stopped at the end (default:
  one per core, one thread each);
* on a running cluster (``scheduler="tcp://host:8786"``): see ``docs/distributed.md``.

Results are merged by key: each key's result is taken once, from the one result the scheduler
keeps for it, whatever happened on the way. A worker that dies mid-task is replaced by the
scheduler, which runs the task again on another worker (up to
``distributed.scheduler.allowed-failures`` deaths per task, default 3, then the job stops with
an error naming the key). A task that raises is retried ``retries`` times, then the job stops
with the task's error. The numbers cannot depend on the number of workers or on the split as
long as each task is a pure function of its arguments (the project's random draws are keyed
by chip seed and image: :mod:`golden.noise`).

Each task runs torch on one thread (:func:`single_threaded`): the parallelism is the workers,
one per core. Measured on a shared 2-core machine under load: 100 images of td at T = 64 took
0.98 s on one torch thread and 89.5 s on two (the threads' spin-waits fight the other load).
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from tqdm import tqdm


#: Dask configuration of the workers this module starts. Dask's nannies set
#: MALLOC_TRIM_THRESHOLD_=65536 in their workers, which also freezes glibc's mmap threshold at
#: 128 KiB: every torch tensor above it is then mmap'd and unmapped again. Measured (200 td
#: images, T = 64, one thread): 0.66 s user + 1.1-1.3 s system CPU in such a worker, against
#: 0.66 s + 0.05-0.08 s without the variable and 0.63 s + 0 s in a plain process.
WORKER_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


def add_options(parser) -> None:
    """``--workers N`` | ``--scheduler ADDRESS`` on an argparse parser (for :func:`run_tasks`)."""
    from golden.options import int_at_least

    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int_at_least(0), default=None,
                       help="local cluster of N worker processes (default: one per core; 0: this process)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="a running Dask scheduler, e.g. tcp://10.0.0.1:8786 (docs/distributed.md)")


def default_workers() -> int:
    """One worker per core of this machine."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def single_threaded(fn: Callable[..., Any], *args, **kwargs) -> Any:
    """``fn(*args, **kwargs)`` with torch on one intra-op thread (restored afterwards)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn(*args, **kwargs)
    finally:
        torch.set_num_threads(before)


def _value(x: Any) -> Any:
    """The task that holds a shared input."""
    return x


def _check(tasks: Mapping, workers: int | None, scheduler: str | None) -> None:
    if not tasks:
        raise ValueError("run_tasks: no tasks given")
    bad = [k for k in tasks if not isinstance(k, str)]
    if bad:
        raise ValueError(f"run_tasks: task keys must be strings, got {bad[:3]!r}")
    if workers is not None and (not isinstance(workers, int) or workers < 0):
        raise ValueError(f"workers = {workers!r}: must be an integer >= 0 (0: in this process)")
    if scheduler is not None and workers is not None:
        raise ValueError(f"workers = {workers} and scheduler = {scheduler!r}: give one of them "
                         "(a running cluster has its own workers)")


def run_tasks(fn: Callable[..., Any], tasks: Mapping[str, tuple], shared: Mapping[str, Any] | None = None,
              workers: int | None = None, scheduler: str | None = None, retries: int = 1,
              progress: bool = True, desc: str = "tasks") -> dict[str, Any]:
    """Run ``fn(*tasks[key], **shared)`` for every key; return ``{key: result}``.

    ``workers``: 0 runs in this process; ``N >= 1`` starts a local cluster of N single-thread
    worker processes; None (default) means one per core, or the cluster's own workers when
    ``scheduler`` (a Dask scheduler address) is given. ``retries``: extra attempts of a task
    that raises. A tqdm bar counts the finished tasks, from whichever worker.
    """
    _check(tasks, workers, scheduler)
    shared = dict(shared or {})
    if workers == 0:
        out = {}
        for key in tqdm(sorted(tasks), desc=desc, unit="task", disable=not progress):
            out[key] = single_threaded(fn, *tasks[key], **shared)
        return out
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler)
        except OSError as err:   # refused, unreachable or timed out
            raise RuntimeError(f"cannot reach the Dask scheduler at {scheduler!r}: {err}") from err
        with client:
            return _run_on(client, fn, tasks, shared, retries, progress, desc)
    import dask

    n = default_workers() if workers is None else workers
    # dashboard off: several runs may share this machine, and the port would collide
    with dask.config.set(WORKER_CONFIG), LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True,
            dashboard_address=None) as cluster, Client(cluster) as client:
        return _run_on(client, fn, tasks, shared, retries, progress, desc)


def _run_on(client, fn, tasks, shared, retries, progress, desc) -> dict[str, Any]:
    """Submit every task to ``client``'s cluster and merge the results by key."""
    from distributed import as_completed

    # The shared inputs are tasks of their own (not scattered data): a worker that dies holding
    # the only copy of scattered data loses it for good, a task's result is recomputed from its
    # spec on the scheduler. Workers fetch the result from each other, once each. The keys of
    # this job are unique on the scheduler (another job on the same cluster cannot alias them).
    job = uuid.uuid4().hex[:12]
    with warnings.catch_warnings():   # a large input sent once, as intended
        warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
        shared_futures = {k: client.submit(_value, v, key=f"tdsnn-{job}-shared-{k}", pure=False)
                          for k, v in shared.items()}
    futures = {client.submit(single_threaded, fn, *tasks[key], **shared_futures,
                             key=f"tdsnn-{job}-{key}", pure=False, retries=retries): key
               for key in sorted(tasks)}
    out: dict[str, Any] = {}
    n_workers = len(client.scheduler_info()["workers"])
    bar = tqdm(total=len(futures), desc=f"{desc} ({n_workers} workers)", unit="task",
               disable=not progress)
    try:
        for future in as_completed(futures):
            key = futures[future]
            if key in out:      # as_completed yields a future once; keep the merge exact anyway
                raise RuntimeError(f"task {key!r} returned twice")
            try:
                out[key] = future.result()
            except Exception as err:
                raise RuntimeError(f"task {key!r} failed: {type(err).__name__}: {err}") from err
            bar.update(1)
    finally:
        bar.close()
        client.cancel(list(futures))
    missing = set(tasks) - set(out)
    if missing:
        raise RuntimeError(f"tasks {sorted(missing)[:5]} returned no result")
    return out
