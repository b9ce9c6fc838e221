"""The distributed engine: keyed tasks on a Dask distributed cluster, merged by key.

A job is one function ``fn`` and a mapping ``key -> args``; task ``key`` computes
``fn(*args, **shared)``. ``shared`` holds the large inputs every task needs (the network, the
images): they are sent to each worker once, not once per task. :func:`run_tasks` runs the job

* in this process, one task after another, in key order (``workers=0``): the reference;
* on a local cluster of ``workers`` processes started here and stopped at the end (default:
  one per core, one thread each);
* on a running cluster (``scheduler="tcp://host:8786"`` or ``tls://...``): see
  ``docs/distributed.md``. Before any data is sent, :func:`check_scheduler` does Dask's
  handshake and asks the server who it is, within Dask's connect timeout
  (``distributed.comm.timeouts.connect``, default 30 s): an address that is silent, speaks
  another protocol (an HTTP server) or is a Dask worker ends in a one-line error.

A local cluster serves no dashboard: its scheduler's HTTP endpoint (health and metrics only)
listens on a free port of 127.0.0.1, so runs side by side never collide on Dask's default port
8787 and nothing listens on another interface. For a dashboard, start a scheduler with one and
pass its address (docs/distributed.md).

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

import asyncio
import os
import uuid
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tqdm import tqdm

#: Dask configuration of the workers this module starts. Dask's nannies set
#: MALLOC_TRIM_THRESHOLD_=65536 in their workers, which also freezes glibc's mmap threshold at
#: 128 KiB: every torch tensor above it is then mmap'd and unmapped again. Measured (200 td
#: images, T = 64, one thread): 0.66 s user + 1.1-1.3 s system CPU in such a worker, against
#: 0.66 s + 0.05-0.08 s without the variable and 0.63 s + 0 s in a plain process.
WORKER_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}

#: memory per task of a job (bytes) where it is submitted: Dask's futures and the local
#: cluster's scheduler state, measured at 34 KB per task (2000 trivial tasks on one local
#: worker, growth of the maximum resident size), rounded up
TASK_BYTES = 40_000


def check_job_size(what: str, n_tasks: int, result_bytes: int = 0, advice: str = "") -> None:
    """Refuse, before anything is allocated, a job of ``n_tasks`` tasks whose results hold
    ``result_bytes`` when it cannot fit in this machine's memory (:data:`TASK_BYTES` each)."""
    from golden.resources import check_memory
    check_memory(f"{what} ({n_tasks} tasks)", n_tasks * TASK_BYTES + result_bytes,
                 advice or "split it into smaller jobs")


def add_options(parser) -> None:
    """``--workers N`` | ``--scheduler ADDRESS`` on an argparse parser (for :func:`run_tasks`)."""
    from golden.options import int_at_least

    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int_at_least(0), default=None,
                       help="local cluster of N worker processes (default: one per core; 0: this process)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="a running Dask scheduler, e.g. tcp://10.0.0.1:8786 or "
                            "tls://10.0.0.1:8786 (docs/distributed.md)")


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


def connect_timeout() -> float:
    """Dask's connect timeout in seconds (``distributed.comm.timeouts.connect``)."""
    import dask
    from dask.utils import parse_timedelta
    return parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), default="s")


def check_scheduler(address: str, timeout: float | None = None) -> dict:
    """The identity of the Dask scheduler at ``address`` (Dask's handshake, then its
    ``identity`` call, within twice ``timeout`` s, default :func:`connect_timeout`); a one-line
    :class:`RuntimeError` for an address that cannot be reached, does not answer in time,
    answers in another protocol or is not a scheduler. TLS addresses use Dask's security
    configuration (``distributed.comm.tls.*``)."""
    from distributed.comm import connect
    from distributed.security import Security

    timeout = connect_timeout() if timeout is None else timeout
    args = Security().get_connection_args("client")

    async def probe():
        comm = await connect(address, timeout=timeout, **args)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    def run():   # a loop of its own: the caller may be inside one
        # connect() gives up on an address that refuses after `timeout` (an OSError); its
        # handshake has no limit of its own: the whole probe gets twice that
        return asyncio.run(asyncio.wait_for(probe(), 2 * timeout))

    where = f"the Dask scheduler at {address!r}"
    try:
        with ThreadPoolExecutor(1) as pool:
            reply = pool.submit(run).result()
    except (asyncio.TimeoutError, TimeoutError):
        raise RuntimeError(f"{where}: no Dask handshake within {2 * timeout:g} s (a service that "
                           f"is not a Dask scheduler, or none at all; the limit is Dask's "
                           f"distributed.comm.timeouts.connect)") from None
    except OSError as err:     # refused, unreachable, or Dask's own connect timeout
        raise RuntimeError(f"cannot reach {where}: {err}") from None
    except Exception as err:   # a reply in another protocol, e.g. an HTTP server's
        raise RuntimeError(f"{where}: the reply is not Dask's protocol ({type(err).__name__}: "
                           f"{str(err)[:100]}); is it a Dask scheduler's address?") from None
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        kind = reply.get("type") if isinstance(reply, dict) else type(reply).__name__
        raise RuntimeError(f"{where}: the server is a {kind}, not a Dask scheduler (give the "
                           f"address the scheduler printed, e.g. tcp://HOST:8786)")
    return reply


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
    ``scheduler`` (a Dask scheduler address, checked by :func:`check_scheduler`) is given.
    ``retries``: extra attempts of a task that raises. A tqdm bar counts the finished tasks,
    from whichever worker.
    """
    _check(tasks, workers, scheduler)
    check_job_size(desc, len(tasks))
    shared = dict(shared or {})
    if workers == 0:
        out = {}
        for key in tqdm(sorted(tasks), desc=desc, unit="task", disable=not progress):
            out[key] = single_threaded(fn, *tasks[key], **shared)
        return out
    from distributed import Client, LocalCluster

    if scheduler is not None:
        timeout = connect_timeout()
        check_scheduler(scheduler, timeout)
        try:
            client = Client(scheduler, timeout=timeout)
        except OSError as err:   # refused, unreachable or timed out
            raise RuntimeError(f"cannot reach the Dask scheduler at {scheduler!r}: {err}") from err
        with client:
            return _run_on(client, fn, tasks, shared, retries, progress, desc)
    import dask

    n = default_workers() if workers is None else workers
    # Dask's scheduler always starts an HTTP server, on port 8787 when given no address (two
    # runs collide): a free port of the loopback interface, and no dashboard on it
    with dask.config.set(WORKER_CONFIG), LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
            scheduler_kwargs={"dashboard": False}) as cluster, Client(cluster) as client:
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
