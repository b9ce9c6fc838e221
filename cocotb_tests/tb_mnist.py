"""MNIST test images through the RTL neuron array (``tb_mnist_top``, see :mod:`cocotb_tests.mnist_rtl`).

Front end in Python: the synapses (``W+ @ s``, ``W- @ s``) and the CCOs of the behavioural
``td`` model (:func:`behavioral.td.td_step`, whose phase, gain mismatch and jitter state it
keeps). The digital neuron state is the RTL's: layer ``l``'s synaptic input at step ``t`` is
computed from the spikes the **RTL** produced for layer ``l - 1`` at step ``t``; the output
layer's final counts (the readout's tie-break) are read back through ``sel``/``count_out``.

Golden: the behavioural ``td`` model alone (:func:`golden.snn.run_batch`, open loop, same
batch of images). Checked, bit-exact: every spike of every layer at every step, the final
output counts, no counter overflow in the RTL where the golden model has none, and the predicted
class of every image.

Environment: ``TB_IMAGES`` (100), ``TB_START`` (0, first test image), ``TB_K`` (images in
parallel = array instances, must match the build), ``TB_T`` (64 steps), ``TB_OUT`` (JSON
result file, with the RTL's class of each image), ``TB_PROGRESS`` (1: tqdm bar).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace

import cocotb
import numpy as np
import torch
from cocotb.triggers import FallingEdge, Timer

from behavioral.td import TDNeuron, TDParams, td_step
from cocotb_tests.mnist_rtl import PERIOD_NS, layout_for, n_instances
from cocotb_tests.runner import params_from_env
from golden.snn import layer_constants, layer_input, readout, run_batch


class SpikeRecorder:
    """Wraps a neuron model and records every layer's spikes per step (bool (batch, n))."""

    def __init__(self, model):
        self.model, self.name, self.n_slots = model, model.name, model.n_slots
        self.spikes: dict[int, list[np.ndarray]] = {}
        self.last: dict[int, object] = {}

    def init_state(self, batch, n, layer, image_ids=None):
        self.spikes[layer] = []
        return self.model.init_state(batch, n, layer, image_ids)

    def step(self, state, i_exc, i_inh):
        s, new = self.model.step(state, i_exc, i_inh)
        self.spikes[new.layer].append(s.numpy().astype(bool))
        self.last[new.layer] = new
        return s, new

    def membrane(self, state):
        return self.model.membrane(state)

    def counters(self, state):
        return self.model.counters(state)


def pack_planes(values: np.ndarray, n_sub: int, bits: int) -> int:
    """Counts (m * n_sub,) -> the wrapper's bit-plane layout, one integer: slice ``a``'s plane
    ``j`` (bit ``j`` of its ``n_sub`` counts) at bits ``a*n_sub*bits + j*n_sub + i``."""
    v = values.astype(np.uint8 if bits <= 8 else np.uint64).reshape(-1, 1, n_sub)
    b = ((v >> np.arange(bits, dtype=v.dtype)[None, :, None]) & 1).astype(np.uint8).ravel()
    return int.from_bytes(np.packbits(b, bitorder="little").tobytes(), "little")


def unpack_bits(value: int, n: int) -> np.ndarray:
    raw = np.frombuffer(value.to_bytes((n + 7) // 8, "little"), dtype=np.uint8)
    return np.unpackbits(raw, bitorder="little")[:n].astype(bool)


def unpack_signed(value: int, k: int, width: int) -> np.ndarray:
    mask = (1 << width) - 1
    out = np.array([(value >> (a * width)) & mask for a in range(k)], dtype=np.int64)
    return np.where(out >> (width - 1), out - (1 << width), out)


class Clocked:
    """Waits measured in clock periods from a falling edge, with the simulator time spent."""

    def __init__(self):
        self.cycles = 0
        self.sim_seconds = 0.0

    async def periods(self, n: int):
        t = time.perf_counter()
        await Timer(n * PERIOD_NS, unit="ns")
        self.sim_seconds += time.perf_counter() - t
        self.cycles += n


@cocotb.test(timeout_time=10_000, timeout_unit="sec")
async def mnist(dut):
    """MNIST images through the RTL array; every spike and prediction equals the golden td model."""
    torch.set_num_threads(1)
    wall0 = time.perf_counter()
    ap = params_from_env()
    n_images = int(os.environ.get("TB_IMAGES", "100"))
    start = int(os.environ.get("TB_START", "0"))
    K = int(os.environ.get("TB_K", "1"))
    T = int(os.environ.get("TB_T", "64"))
    progress = os.environ.get("TB_PROGRESS", "0") == "1"
    out_path = os.environ.get("TB_OUT")
    from golden.pipeline import network_options_from_env, prepare_from_options  # noqa: PLC0415
    t0 = time.perf_counter()
    prep = prepare_from_options(network_options_from_env(), progress=False)  # the run's network
    t_prepare = time.perf_counter() - t0
    net = prep.net
    tdp = TDParams()
    if replace(ap, counter="sync", clock_gating=False) != tdp.array(ap.n_neurons):
        raise AssertionError(f"build {ap} is not the td model's array {tdp.array(ap.n_neurons)} "
                             f"in one of its architectures")
    lay = layout_for(tdp, net.sizes)
    if not tdp.n_th > 0:
        raise AssertionError("the pipelined layers need N_th > 0")
    L = len(lay.sizes)
    N, S, W = lay.n_neurons, ap.sync_stages, ap.count_bits   # N: neurons per image
    NS = ap.n_neurons                                    # neurons per td_neuron_array instance
    M = n_instances(K, lay, NS)
    if len(dut.spike_valid.value) != M:
        raise AssertionError(f"wrapper has {len(dut.spike_valid.value)} arrays, expected {M}")
    x_all = prep.test_x[start:start + n_images]
    y_all = prep.test_y[start:start + n_images]
    n_images = len(y_all)
    layers = layer_constants(net)
    model = TDNeuron(tdp)
    clk = Clocked()
    t_golden = t_front = t_readback = 0.0
    rtl_correct = golden_correct = agree = 0
    spikes_checked = 0
    predictions: list[int] = []                          # the RTL's class of each image

    for sig in (dut.rst, dut.enable, dut.step, dut.load, dut.th_we, dut.th_data, dut.sel,
                dut.up_cnt, dut.down_cnt):
        sig.value = 0
    await FallingEdge(dut.clk)
    bar = None
    if progress:
        from tqdm import tqdm  # noqa: PLC0415
        bar = tqdm(total=n_images, desc=f"MNIST through RTL (K={K})", unit="img")
    for lo in range(0, n_images, K):
        x, y = x_all[lo:lo + K], y_all[lo:lo + K]
        b = len(y)
        # ---- golden: the behavioural td model alone ----
        t0 = time.perf_counter()
        rec = SpikeRecorder(model)
        gold = run_batch(net, rec, x, T, first_image=start + lo)
        g_pred = gold.predictions[T]
        t_golden += time.perf_counter() - t0
        # ---- reset, threshold write ----
        dut.rst.value = 1
        dut.enable.value = 1
        await clk.periods(1)
        dut.rst.value = 0
        dut.th_we.value = 1
        dut.th_data.value = tdp.n_th
        await clk.periods(1)
        dut.th_we.value = 0
        # ---- front end state ----
        t0 = time.perf_counter()
        ids = torch.arange(start + lo, start + lo + b)       # the jitter is keyed by image
        states = [model.init_state(b, n, l, ids) for l, n in enumerate(lay.sizes)]
        const = layer_input(x.to(torch.float32), layers[0], 1, True)
        rtl_spikes = [np.zeros((T, b, n), bool) for n in lay.sizes]

        def window(s_next):
            """Pulse counts (K, N) for the window before strobe ``s_next``: layer l's step
            ``s_next - l`` (its input from the RTL's layer l-1 spikes of that step)."""
            up = np.zeros((K, N), np.int64)
            down = np.zeros((K, N), np.int64)
            for l in range(L):
                t = s_next - l
                if not 1 <= t <= T:
                    continue
                if l == 0:
                    i_e, i_i = const
                else:
                    s_prev = torch.as_tensor(rtl_spikes[l - 1][t - 1], dtype=torch.float32)
                    i_e, i_i = layer_input(s_prev, layers[l], 1, False)
                _, states[l] = td_step(tdp, states[l], i_e, i_i)
                o, n = lay.offsets[l], lay.sizes[l]
                up[:b, o:o + n] = states[l].up.numpy()
                down[:b, o:o + n] = states[l].down.numpy()
            return up, down

        up, down = window(1)
        t_front += time.perf_counter() - t0
        n_strobes = T + L - 1
        for s in range(1, n_strobes + 1):
            p_max = int(max(up.max(), down.max()))
            dut.up_cnt.value = pack_planes(np.pad(up.ravel(), (0, M * NS - K * N)), NS, lay.count_bits)
            dut.down_cnt.value = pack_planes(np.pad(down.ravel(), (0, M * NS - K * N)), NS,
                                             lay.count_bits)
            dut.load.value = 1
            await clk.periods(1)
            dut.load.value = 0
            await clk.periods(2 * p_max + S)         # the strobe edge is 2P+S+1 after the load edge
            dut.step.value = 1
            await clk.periods(1)
            dut.step.value = 0
            t0 = time.perf_counter()
            valid = int(dut.spike_valid.value)
            if valid != (1 << M) - 1:
                raise AssertionError(f"strobe {s}: spike_valid {valid:#x}, expected all {M} set")
            spk = unpack_bits(int(dut.spikes.value), K * N).reshape(K, N)[:b]
            for l in range(L):
                t = s - l
                part = spk[:, lay.offsets[l]:lay.offsets[l] + lay.sizes[l]]
                if 1 <= t <= T:
                    rtl_spikes[l][t - 1] = part
                elif t < 1 and part.any():
                    raise AssertionError(f"layer {l} spiked at strobe {s} before its first step")
            if s < n_strobes:
                up, down = window(s + 1)
            t_front += time.perf_counter() - t0
        # ---- read back the output layer's counts ----
        t_rb = time.perf_counter()
        o_out, n_out = lay.offsets[-1], lay.sizes[-1]
        counts = np.zeros((b, n_out), np.int64)
        g = np.arange(b)[:, None] * N + o_out + np.arange(n_out)[None, :]   # flat index
        for local in np.unique(g % NS):
            dut.sel.value = int(local)
            await Timer(100, unit="ps")   # count_out is combinational from sel
            per_inst = unpack_signed(int(dut.count_out.value), M, W)
            hit = g % NS == local
            counts[hit] = per_inst[g[hit] // NS]
        overflow = unpack_bits(int(dut.overflow.value), K * N).reshape(K, N)[:b]
        await FallingEdge(dut.clk)                     # back onto a falling edge
        clk.cycles += 1
        t_readback += time.perf_counter() - t_rb
        # ---- checker ----
        for l in range(L):
            ref = np.stack(rec.spikes[l])                   # (T, b, n)
            bad = np.argwhere(ref != rtl_spikes[l])
            spikes_checked += ref.size
            if len(bad):
                t, i, j = bad[0]
                raise AssertionError(
                    f"image {start + lo + i}, layer {l}, step {t + 1}, neuron {j}: RTL spike "
                    f"{rtl_spikes[l][t, i, j]} != golden {ref[t, i, j]} ({len(bad)} mismatches)")
        g_counts = rec.last[L - 1].count.numpy()
        if not np.array_equal(counts, g_counts):
            i = int(np.argwhere((counts != g_counts).any(1))[0][0])
            raise AssertionError(f"image {start + lo + i}: output counts RTL {counts[i]} != "
                                 f"golden {g_counts[i]}")
        g_ovf = np.concatenate([rec.last[l].overflow.numpy() for l in range(L)], axis=1)
        if overflow.any() and not g_ovf[overflow].all():
            raise AssertionError("RTL overflow flag where the golden model has none")
        totals = torch.as_tensor(rtl_spikes[-1].sum(0), dtype=torch.float32)
        pred = readout(totals, torch.as_tensor(counts, dtype=torch.float32) / tdp.n_th)
        if not torch.equal(pred, g_pred):
            i = int(torch.nonzero(pred != g_pred)[0])
            raise AssertionError(f"image {start + lo + i}: RTL class {int(pred[i])} != golden "
                                 f"{int(g_pred[i])}")
        agree += b
        predictions += pred.tolist()
        rtl_correct += int((pred == y).sum())
        golden_correct += int((g_pred == y).sum())
        if bar is not None:
            bar.update(b)
            bar.set_postfix(rtl_acc=f"{rtl_correct / agree:.4f}", cyc_s=f"{clk.cycles / max(clk.sim_seconds, 1e-9):.0f}")
    if bar is not None:
        bar.close()
    wall = time.perf_counter() - wall0
    result = {
        "simulator": os.environ.get("TB_SIM", "?"), "images": n_images, "start": start,
        "parallel_images": K, "T": T, "array": ap.name, "neurons_per_image": N,
        "rtl_correct": rtl_correct, "golden_correct": golden_correct,
        "rtl_accuracy": rtl_correct / n_images, "golden_accuracy": golden_correct / n_images,
        "predictions_equal": agree, "spikes_checked": spikes_checked,
        "cycles": clk.cycles, "wall_seconds": wall, "sim_seconds": clk.sim_seconds,
        "frontend_seconds": t_front, "readback_seconds": t_readback, "prepare_seconds": t_prepare, "golden_seconds": t_golden,
        "cycles_per_second": clk.cycles / max(clk.sim_seconds, 1e-9),
        "images_per_second": n_images / wall, "predictions": predictions,
    }
    dut._log.info("MNIST through RTL: " + json.dumps({k: v for k, v in result.items()
                                                      if k != "predictions"}))
    if out_path:
        with open(out_path, "w") as f:
            json.dump(result, f, indent=2)
