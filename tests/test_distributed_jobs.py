"""The sweeps and the MNIST run through the RTL as keyed tasks on a real cluster (a ``dask
scheduler`` and two ``dask worker`` processes on 127.0.0.1, the fixture of
``test_distributed``), against the serial run in this process with another split."""

import os
import signal
import threading

import numpy as np
import pytest
import torch
from test_distributed import _wait, cluster  # noqa: F401  (the real-cluster fixture)

from behavioral import sweeps
from behavioral.models import build
from behavioral.synapse import quantised_network
from cocotb_tests import runner, suites
from golden.distributed import run_tasks
from golden.snn import evaluate

#: the in-process runs on one torch thread, as the engine runs its tasks (golden.distributed)
pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: a tiny sweep: weight bits (three models, one chip; 3-bit weights cost an image or more) and
#: td jitter (two chips, draws keyed by chip and image) on 30 images
SWEEPS, N_IMAGES = ["weight_bits", "td_jitter"], 30


def test_sweeps_on_two_workers_equal_the_serial_run(cluster, prepared, tmp_path):  # noqa: F811
    serial = sweeps.run(prepared, tmp_path / "serial", limit=N_IMAGES, names=SWEEPS,
                        block=N_IMAGES, workers=0, progress=False)
    split = sweeps.run(prepared, tmp_path / "split", limit=N_IMAGES, names=SWEEPS, block=11,
                       scheduler=cluster, progress=False)     # 3 blocks per evaluation
    assert (serial.pop("run")["tasks"] * 3, serial["n_images"]) == (split.pop("run")["tasks"], 30)
    assert serial == split
    for name in SWEEPS:
        assert ((tmp_path / "serial" / "sweeps" / f"{name}.csv").read_text()
                == (tmp_path / "split" / "sweeps" / f"{name}.csv").read_text())
    td_bits = serial["sweeps"]["weight_bits"]["td"]
    assert td_bits["x"][0] == 3 and td_bits["errors"][0][0] > 0   # not a table of zeros
    # the serial run is the evaluator's: td with 3-bit weights, chip 0, on the sweep's images
    pick = torch.randperm(len(prepared.test_y), generator=torch.Generator().manual_seed(0))[:N_IMAGES]
    direct = evaluate(quantised_network(prepared.net, 3), build("td", seed=0),
                      prepared.test_x[pick], prepared.test_y[pick], 64, seed=0, progress=False)
    assert td_bits["errors"][0] == [direct.error_pct]


def test_sweep_merge_refuses_a_block_counted_twice_or_missing():
    plan = sweeps.task_plan(1, 10, 5, ["td_alpha"])
    results = {k: np.zeros(hi - lo, np.int8) for k, (*_, lo, hi) in plan.items()}
    labels = torch.zeros(10, dtype=torch.long)
    assert set(sweeps.merge(plan, results, labels).values()) == {0.0}
    first = sorted(plan)[0]
    with pytest.raises(RuntimeError, match="counted twice"):
        sweeps.merge(plan | {"again": plan[first]}, results | {"again": results[first]}, labels)
    with pytest.raises(RuntimeError, match="results for"):
        sweeps.merge(plan, {k: v for k, v in results.items() if k != first}, labels)


def test_bad_sweep_names_are_refused_before_any_work():
    with pytest.raises(ValueError, match=r"\['vddd'\]: choose from"):
        sweeps.task_plan(2, 10, 5, ["vdd", "vddd"])


#: a few images through the RTL on Icarus, T = 16: serial in one block, and one image per task
#: (each task starts a simulator and loads the network: ~10-20 s on a loaded 2-core machine)
RTL_IMAGES, RTL_T = 3, 16


def test_rtl_blocks_on_two_workers_one_killed_equal_the_serial_run(cluster, tmp_path):  # noqa: F811
    """One image per task on the cluster; the worker that starts the first task is killed in
    the middle of it: the block runs again on the other worker and is counted once."""
    msg = runner.missing("icarus")
    if msg:
        pytest.skip(msg)
    serial = suites.run_mnist_parallel("icarus", RTL_IMAGES, block=RTL_IMAGES, T=RTL_T, workers=0)
    markers = tmp_path / "markers"
    markers.mkdir()
    plan = suites.mnist_plan(RTL_IMAGES, 1)
    tasks = {k: (str(markers), "icarus", lo, hi, RTL_T, None) for k, (lo, hi) in plan.items()}
    killed = {}

    def kill_first_runner():
        _wait(lambda: any(markers.glob("start-*")), "a task to start")
        first = sorted(markers.glob("start-*"))[0].name
        killed["lo"], killed["pid"] = first.split("-")[1], int(first.split("-")[2])
        os.kill(killed["pid"], signal.SIGKILL)       # a worker process the fixture started
        (markers / "go").touch()

    killer = threading.Thread(target=kill_first_runner)
    killer.start()
    import dask_tasks
    try:
        out = run_tasks(dask_tasks.gated_rtl_block, tasks, scheduler=cluster, progress=False)
    finally:
        (markers / "go").touch()
        killer.join()
    starts = list(markers.glob(f"start-{killed['lo']}-*"))
    assert len(starts) == 2, starts                   # begun on the killed worker, then again
    split = suites.merge_mnist(plan, out)
    for k in ("predictions", "images", "rtl_correct", "golden_correct", "predictions_equal",
              "spikes_checked", "cycles"):
        assert serial[k] == split[k], k
    assert split["predictions_equal"] == RTL_IMAGES          # every image checked bit-exact
    assert [p["start"] for p in split["parts"]] == list(range(RTL_IMAGES))


def test_rtl_merge_refuses_a_block_counted_twice_or_missing():
    def part(lo, hi):
        return {"images": hi - lo, "predictions": [1] * (hi - lo), "rtl_correct": 0,
                "golden_correct": 0, "predictions_equal": hi - lo, "spikes_checked": 0,
                "cycles": 0, "sim_seconds": 0.0}
    plan = suites.mnist_plan(5, 2)
    assert plan == {"img00000": (0, 2), "img00002": (2, 4), "img00004": (4, 5)}
    results = {k: part(*v) for k, v in plan.items()}
    assert suites.merge_mnist(plan, results)["predictions"] == [1] * 5
    with pytest.raises(RuntimeError, match="counted twice"):
        suites.merge_mnist(plan | {"again": (2, 4)}, results | {"again": part(2, 4)})
    with pytest.raises(RuntimeError, match="2 images simulated, expected 1"):
        suites.merge_mnist(plan, results | {"img00004": part(0, 2)})
    with pytest.raises(ValueError, match="block = 0"):
        suites.mnist_plan(5, 0)
