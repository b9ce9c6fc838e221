"""Shared fixtures: networks trained on MNIST (cached in artifacts/), small synthetic data sets
in IDX format and isolated artifacts/results folders.

``prepared`` is the default 784-500-10 network (about 1 min of training on a fresh machine);
only the tests of its accuracy use it. Tests of the mechanics use ``small_prepared``, a
784-64-10 network trained for one epoch (a few seconds).
"""

import numpy as np
import pytest

from golden import compute
from golden.data import FILES
from golden.idx import encode_idx


@pytest.fixture(scope="session")
def prepared():
    from golden.pipeline import prepare
    return prepare(progress=False)


@pytest.fixture(scope="session")
def small_prepared():
    from golden.ann import TrainConfig
    from golden.pipeline import prepare
    return prepare(TrainConfig(hidden=(64,), epochs=1), progress=False)


@pytest.fixture(scope="module")
def one_torch_thread():
    """torch on one thread for the module's tests; the caller's setting restored after."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def make_dataset(tmp_path):
    """``make_dataset(name, seed=0, n_train=200, n_test=40)``: a folder of the four IDX files
    holding random 28x28 images with labels 0-9 (a different data set per seed)."""
    def make(name: str, seed: int = 0, n_train: int = 200, n_test: int = 40):
        folder = tmp_path / name
        folder.mkdir()
        rng = np.random.default_rng(seed)
        for split, n in (("train", n_train), ("test", n_test)):
            labels = np.arange(n, dtype=np.uint8) % 10
            images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
            for stem, arr in zip(FILES[split], (images, labels)):
                (folder / stem).write_bytes(encode_idx(arr))
        return folder
    return make


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Empty artifacts and results folders for the test (``$TDSNN_ARTIFACTS``, ``$TDSNN_RESULTS``)."""
    monkeypatch.setenv("TDSNN_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("TDSNN_RESULTS", str(tmp_path / "results"))
    return tmp_path


@pytest.fixture
def fuse_small(monkeypatch):
    """Compile the fused kernels for the small tensors of these tests too; after the test, no
    kernel may have fallen back to eager (the warning of a failed compilation comes once per
    process, so :data:`compiled_only` alone misses an earlier failure)."""
    monkeypatch.setattr(compute, "FUSE_MIN_ELEMENTS", 0)
    compute.set_fused(True)
    yield
    assert not compute.FALLBACKS, f"compilation failed, ran eagerly: {compute.FALLBACKS}"


#: the modules whose tests run a simulator or Yosys, ngspice, or are long for another reason
#: (marks of `make check`'s fast lane; pyproject.toml declares them)
MODULE_MARKS = {
    "simulator": ("test_cocotb_gate", "test_cocotb_logs", "test_cocotb_mnist", "test_cocotb_sim",
                  "test_cocotb_sky130", "test_rtl_activity", "test_rtl_formal", "test_rtl_fpga",
                  "test_rtl_sim", "test_rtl_xcheck", "test_techmap_sta", "test_distributed_jobs",
                  "test_reproduce_stages", "test_reproduce_report", "test_results_record",
                  "test_spice_architectures"),
    "spice": ("test_cache_trust", "test_digital_cost", "test_liberty_cells", "test_liberty_char",
              "test_montecarlo_area", "test_results_provenance", "test_sky130_data"),
    "slow": ("test_prediction_reference", "test_behavioral_network", "test_ann_cache",
             "test_td_decomposition"),
}


def pytest_collection_modifyitems(items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        if module.startswith("test_spice_"):
            item.add_marker(pytest.mark.spice)
        for mark, modules in MODULE_MARKS.items():
            if module in modules:
                item.add_marker(getattr(pytest.mark, mark))
