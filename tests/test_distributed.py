"""The distributed engine on a real cluster: a ``dask scheduler`` and two ``dask worker``
processes on 127.0.0.1 (started and stopped here), against the serial run in this process;
and a worker killed in the middle of a task."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from behavioral.montecarlo import chips_block, merge, task_plan
from golden.distributed import run_tasks

DASK = Path(sys.executable).with_name("dask")
TESTS = Path(__file__).parent
N_IMAGES, CHIPS, T = 60, 3, 32
#: td with large gain mismatch and jitter, so that the chips' predictions differ on 60 images
TD = {"sigma_gain_rel": 0.3, "sigma_jitter": 0.3}


#: the in-process runs on one torch thread, as the engine runs its tasks (golden.distributed)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _wait(cond, what: str, seconds: float = 180.0):
    """Poll ``cond`` until true; fail naming ``what`` after ``seconds`` (a bound, not a timing)."""
    deadline = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def cluster(tmp_path):
    """Address of a scheduler with two single-thread workers (no nanny: a killed worker stays dead)."""
    from golden.pipeline import artifacts_dir
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
                         "OMP_NUM_THREADS": "1",   # as a Dask nanny would set it
                         # the workers run elsewhere: the trained network where this run has it
                         "TDSNN_ARTIFACTS": str(artifacts_dir().resolve())}
    procs = []
    log = (tmp_path / "cluster.log").open("w")
    sched_file = tmp_path / "scheduler.json"

    def start(args):
        procs.append(subprocess.Popen([str(DASK), *args], cwd=tmp_path, env=env, stdout=log,
                                      stderr=subprocess.STDOUT))
    try:
        start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
               "--scheduler-file", str(sched_file)])
        _wait(sched_file.exists, "the scheduler file")
        for i in range(2):
            start(["worker", "--scheduler-file", str(sched_file), "--host", "127.0.0.1",
                   "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", f"w{i}",
                   "--local-directory", str(tmp_path / f"w{i}")])
        from distributed import Client
        with Client(scheduler_file=str(sched_file)) as client:
            client.wait_for_workers(2, timeout=300)
            address = client.scheduler.address
        yield address
    finally:
        for p in procs[::-1]:                         # the workers, then the scheduler
            p.terminate()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        log.close()


@pytest.fixture(scope="module")
def job(prepared):
    """A td Monte Carlo (jitter and gain mismatch keyed by chip and image) on a small subset."""
    shared = {"net": prepared.net, "images": prepared.test_x[:N_IMAGES].clone(),
              "labels": prepared.test_y[:N_IMAGES].clone()}
    serial_plan = task_plan(CHIPS, N_IMAGES, N_IMAGES, 1)       # one task per chip
    serial = run_tasks(chips_block, {k: (*v, "td", T, "constant", None, TD)
                                    for k, v in serial_plan.items()}, shared, workers=0,
                       progress=False)
    return shared, merge(serial_plan, serial, shared["labels"])


def _same(a, b):
    assert [c["chip"] for c in a] == [c["chip"] for c in b]
    for x, y in zip(a, b):
        assert x["correct"] == y["correct"] and x["counters"] == y["counters"]
        np.testing.assert_array_equal(x["predictions"], y["predictions"])


def test_two_workers_equal_the_serial_run(cluster, job):
    shared, serial = job
    plan = task_plan(CHIPS, N_IMAGES, 7, 2)          # another split: 9 image blocks, 2 chip blocks
    tasks = {k: (*v, "td", T, "constant", None, TD) for k, v in plan.items()}
    out = run_tasks(chips_block, tasks, shared, scheduler=cluster, progress=False)
    assert set(out) == set(plan)
    _same(merge(plan, out, shared["labels"]), serial)
    # the chips differ from each other: the comparison is not between identical copies
    assert len({c["predictions"].tobytes() for c in serial}) > 1


def test_worker_killed_mid_task_is_retried_and_counted_once(cluster, job, tmp_path):
    shared, serial = job
    markers = tmp_path / "markers"
    markers.mkdir()
    plan = task_plan(CHIPS, N_IMAGES, 20)
    tasks = {k: (str(markers), *v, "td", T, "constant", None, TD) for k, v in plan.items()}
    killed = {}

    def kill_first_runner():
        _wait(lambda: any(markers.glob("start-*")), "a task to start")
        first = sorted(markers.glob("start-*"))[0].name
        killed["task"], killed["pid"] = first.rsplit("-", 1)[0], int(first.rsplit("-", 1)[1])
        os.kill(killed["pid"], signal.SIGKILL)       # a worker process this test started
        (markers / "go").touch()

    killer = threading.Thread(target=kill_first_runner)
    killer.start()
    import dask_tasks
    try:
        out = run_tasks(dask_tasks.gated_block, tasks, shared, scheduler=cluster, progress=False)
    finally:
        (markers / "go").touch()
        killer.join()
    starts = [m.name for m in markers.glob(f"{killed['task']}-*")]
    assert len(starts) == 2, starts                   # begun on the killed worker, then again
    assert {int(s.rsplit("-", 1)[1]) for s in starts} - {killed["pid"]}
    _same(merge(plan, out, shared["labels"]), serial)


def test_merge_refuses_a_block_counted_twice(job):
    shared, _ = job
    plan = task_plan(1, N_IMAGES, 30)
    res = run_tasks(chips_block, {k: (*v, "td", T, "constant", None, TD) for k, v in plan.items()},
                    shared, workers=0, progress=False)
    twice = dict(plan) | {"again": plan[sorted(plan)[0]]}
    with pytest.raises(RuntimeError, match="counted twice"):
        merge(twice, res | {"again": res[sorted(plan)[0]]}, shared["labels"])


@pytest.mark.parametrize("kwargs, match", [
    ({"workers": -1}, "workers = -1"),
    ({"workers": 2, "scheduler": "tcp://127.0.0.1:1"}, "give one of them"),
])
def test_bad_engine_options_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        run_tasks(abs, {"a": (1,)}, **kwargs)


def test_unreachable_scheduler_is_a_clear_error():
    import dask
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}), \
            pytest.raises(RuntimeError, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        run_tasks(abs, {"a": (1,)}, scheduler="tcp://127.0.0.1:9", progress=False)


def test_local_cluster_workers_run_one_thread_without_the_malloc_trim_setting():
    """The default cluster: its workers have OMP_NUM_THREADS=1 and no MALLOC_TRIM_THRESHOLD_
    (see golden.distributed.WORKER_CONFIG), whatever Dask's defaults say."""
    env = run_tasks(os.getenv, {"trim": ("MALLOC_TRIM_THRESHOLD_",), "omp": ("OMP_NUM_THREADS",)},
                    workers=1, progress=False)
    assert env == {"trim": None, "omp": "1"}
