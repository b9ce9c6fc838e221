"""Many chips of one design in one pass over the images: a chip axis in the evaluator's state.

The rows of a chip-batched run are the (chip, image) pairs, chip-major: row ``c B + r`` is chip
``c`` on image ``first_image + r`` of a batch of ``B`` images. A chip's rows are what its lone
run (:func:`golden.snn.run_batch`) computes, operation for operation:

* the input of the first layer depends on the image (and on the evaluator's ``seed`` for
  Bernoulli spikes and arrival slots), not on the chip: it is formed once per image and seed
  (:func:`golden.snn.layer_input`, exact) and copied to the rows of every chip that shares it;
  the later layers' inputs are one exact product over all rows;
* each chip's per-neuron parameters (mismatch: offsets, gains, of shape ``(n,)`` in a lone
  state, or ``(n, ...)`` such as gain curves) are drawn by that chip's own ``init_state``,
  exactly as alone, and become per-row tensors ``(C B, n, ...)`` of the batched state
  (element-wise, ``x op p[row]`` is the same IEEE operation as ``x op p`` broadcast over a
  lone batch);
* draw counters keyed by image (:class:`golden.noise.Counters`; td's jitter is keyed by image
  and not by chip) are the images' counters with ``copies = C``: a model may then draw once
  per image and use the draws for every chip's rows (td does);
* everything else of the state (zeros) comes from the first chip's ``init_state`` for all
  ``C B`` rows, with the image indices repeated per chip, and the step is the first chip's
  ``step``: the chips must be one design (:func:`design`), differing only in their mismatch
  (and in what is derived from it per neuron at t = 0, such as td's trim weights).

The per-chip event counters are the model's ``counters`` of the chip's rows, so a model keeps
its totals per row (td's lost and delivered pulses, cm's events); a state with a total over its
batch (a tensor neither per row nor per neuron) cannot be split back into chips and is refused
with an error naming the field. Exact models (ideal, opamp, td) give every chip its lone run's
bits; cm's compiled kernels agree with its eager functions to its tolerance
(``behavioral.cm.FAST_PATH_TOL``), and a pass of many chips compiles where a lone batch of
few images may not (:data:`golden.compute.FUSE_MIN_ELEMENTS`).
"""

from __future__ import annotations

import dataclasses
import time

import torch
from tqdm import tqdm

from . import compute, noise
from .network import SpikingNetwork
from .neuron import NeuronModel
from .snn import (
    _ARRIVAL_SLOTS,
    _INPUT_SPIKES,
    CODINGS,
    MAX_STEPS,
    Evaluation,
    SNNRun,
    layer_constants,
    layer_input,
    readout,
)


def design(model) -> tuple:
    """What must be equal for two chips to share a pass: the model's type and name, its
    parameters with ``seed`` (the chip) set to 0, its per-layer parameters likewise, and for a
    wrapper (an object with ``model``, e.g. a characterised chip) its mismatch and the wrapped
    model's design."""
    def unseeded(p):
        if dataclasses.is_dataclass(p) and any(f.name == "seed" for f in dataclasses.fields(p)):
            return dataclasses.replace(p, seed=0)
        return p
    inner = getattr(model, "model", None)
    return (type(model), model.name, model.n_slots, unseeded(getattr(model, "params", None)),
            tuple(unseeded(p) for p in getattr(model, "layers", ())),
            getattr(model, "mismatch", None), None if inner is None else design(inner))


def check_chips(models: list[NeuronModel]) -> None:
    """Refuse an empty chip list and chips of different designs (:func:`design`)."""
    if len(models) == 0:
        raise ValueError("chips: need at least one chip model, got none")
    first = design(models[0])
    for k, m in enumerate(models[1:], 1):
        if design(m) != first:
            raise ValueError(f"chips: chip {k} ({m.name}) is another design than chip 0 "
                             f"({models[0].name}); chips sharing a pass differ only in their seed")


def _per_row(field: str, template, lones: list, lone_batch: int, n: int, image_ids, rows: int):
    """The batched value of one state field: per-neuron tensors of the lone states (``(n,
    ...)``, of ``lone_batch`` images, never ``n``) stacked per chip and repeated over the
    chip's rows; draw counters (:class:`golden.noise.Counters` of all rows) as the counters of
    ``image_ids`` copied once per chip (the same counters, which say that every chip's rows
    draw what the first chip's do); per-row tensors (whose first dimension is the batch in the
    lone states and the template) and other values from the template (the first chip's state
    for all rows); a dataclass field by field."""
    batch = image_ids.shape[0]
    if dataclasses.is_dataclass(template) and not isinstance(template, type):
        return dataclasses.replace(template, **{
            f.name: _per_row(f"{field}.{f.name}", getattr(template, f.name),
                             [getattr(s, f.name) for s in lones], lone_batch, n, image_ids, rows)
            for f in dataclasses.fields(template)})
    if isinstance(template, noise.Counters) and template.base.shape[0] == rows:
        return noise.Counters(image_ids, template.base.shape[1], copies=rows // batch)
    if not isinstance(template, torch.Tensor):
        return template
    lone = lones[0]
    if lone.dim() >= 1 and lone.shape[0] == n and template.shape == lone.shape:
        per_chip = torch.stack(lones)                              # (C, n, ...)
        return (per_chip.unsqueeze(1).expand(-1, batch, *lone.shape)
                .reshape(rows, *lone.shape))
    per_row = (template.dim() > 0 and lone.dim() == template.dim()
               and template.shape[0] == rows and lone.shape[0] == lone_batch)
    if not per_row and not (rows == lone_batch and template.shape == lone.shape):
        raise ValueError(f"chips: the state field {field} (shape {tuple(template.shape)}) is "
                         "neither per row nor per neuron (a total over the batch?): its chips "
                         "cannot be told apart in a batched run")
    return template


def _rows(state, lo: int, hi: int, rows: int):
    """The rows ``lo:hi`` of a batched state (other values unchanged)."""
    if dataclasses.is_dataclass(state) and not isinstance(state, type):
        return dataclasses.replace(state, **{f.name: _rows(getattr(state, f.name), lo, hi, rows)
                                             for f in dataclasses.fields(state)})
    if isinstance(state, torch.Tensor) and state.dim() > 0 and state.shape[0] == rows:
        return state[lo:hi]
    return state


def chip_state(models: list[NeuronModel], batch: int, n: int, layer: int,
               image_ids: torch.Tensor):
    """The batched state at t = 0 of ``layer`` (``n`` neurons) for the chips ``models`` on the
    images ``image_ids`` (batch,): see the module docstring."""
    chips, dev = len(models), image_ids.device
    rows = chips * batch
    template = models[0].init_state(rows, n, layer, image_ids=image_ids.repeat(chips))
    lone_batch = 2 if n == 1 else 1                 # a per-row field is then never (n,)
    lone_ids = torch.arange(lone_batch, device=dev)
    lones = [m.init_state(lone_batch, n, layer, image_ids=lone_ids) for m in models]
    return _per_row("state", template, lones, lone_batch, n, image_ids, rows)


def _tile(t: torch.Tensor, chips: int) -> torch.Tensor:
    """A layer input of one image batch ((B, n), or (slots, B, n)) copied to the rows of
    ``chips`` chips; an input expanded over the slots (stride 0) stays expanded."""
    if t.dim() == 3 and t.stride(0) == 0:
        return t[0].repeat(chips, 1).expand(t.shape[0], -1, -1)
    return t.repeat(chips, 1) if t.dim() == 2 else t.repeat(1, chips, 1)


def _by_chip(parts: dict, seeds: list[int]) -> torch.Tensor:
    """The rows of every chip from per-seed inputs ``parts`` (seed -> (i_exc, i_inh) of one
    image batch): each chip's block is the input of its seed."""
    if len(parts) == 1:
        (one,) = parts.values()
        return tuple(_tile(t, len(seeds)) for t in one)
    out = []
    for k in range(2):
        blocks = [parts[s][k] for s in seeds]
        dim = 1 if blocks[0].dim() == 3 else 0
        out.append(torch.cat(blocks, dim=dim))
    return tuple(out)


@torch.no_grad()
def run_chips(net: SpikingNetwork, models: list[NeuronModel], x: torch.Tensor, T: int,
              coding: str = "constant", seeds: list[int] | int = 0,
              checkpoints: tuple[int, ...] = (), first_image: int = 0) -> list[SNNRun]:
    """:func:`golden.snn.run_batch` of every chip in ``models`` on the batch ``x`` (batch,
    n_in) in one pass: the list of each chip's :class:`golden.snn.SNNRun`, equal to its lone
    run. ``seeds``: the evaluator seed (Bernoulli input spikes, arrival slots) of each chip, or
    one for all; chips of one seed share their input draws."""
    check_chips(models)
    if coding not in CODINGS:
        raise ValueError(f"coding = {coding!r}: allowed values are {CODINGS}")
    if not 1 <= T <= MAX_STEPS:
        raise ValueError(f"T = {T!r} steps: must be in [1, {MAX_STEPS}] (spike counts are "
                         f"float32, exact to 2**24)")
    if first_image < 0:
        raise ValueError(f"first_image = {first_image}: must be >= 0")
    chips = len(models)
    seeds = [seeds] * chips if isinstance(seeds, int) else list(seeds)
    if len(seeds) != chips:
        raise ValueError(f"seeds: {len(seeds)} given for {chips} chips (one per chip, or one int)")
    x = x.to(torch.float32)
    batch, dev = x.shape[0], x.device
    rows = chips * batch
    ids = torch.arange(first_image, first_image + batch, device=dev)
    model, n_slots = models[0], models[0].n_slots
    slotted = n_slots > 1
    layers = layer_constants(net, dev)
    image_inputs = [noise.Counters(ids, w.shape[1]) for w in net.weights]
    row_inputs = [noise.Counters(ids.repeat(chips), w.shape[1]) for w in net.weights]
    states = [chip_state(models, batch, w.shape[0], l, ids) for l, w in enumerate(net.weights)]
    n_layers = len(net.weights)
    totals = [torch.zeros(rows, w.shape[0], device=dev) for w in net.weights]
    predictions = {}
    wanted = set(checkpoints) | {T}
    distinct = sorted(set(seeds))
    constant_input = (_by_chip({0: layer_input(x, layers[0], n_slots, True)}, seeds)
                      if coding == "constant" else None)

    def slots(seed, l, t, counters):
        return (noise.stream_key(seed, _ARRIVAL_SLOTS, l, t), counters) if slotted else None

    s = None                            # the spikes of the layer before (read for layers > 0)
    for t in range(1, T + 1):
        if constant_input is not None:
            i_exc, i_inh = constant_input
        else:
            parts = {}
            for sd in distinct:
                u = noise.uniform_at(noise.stream_key(sd, _INPUT_SPIKES, t), image_inputs[0])
                s0 = (u < x).to(torch.float32)
                parts[sd] = layer_input(s0, layers[0], n_slots, False,
                                        slots(sd, 0, t, image_inputs[0]))
            i_exc, i_inh = _by_chip(parts, seeds)
        for l in range(n_layers):
            if l > 0:
                if not slotted or len(distinct) == 1:
                    i_exc, i_inh = layer_input(s, layers[l], n_slots, False,
                                               slots(seeds[0], l, t, row_inputs[l]))
                else:                                 # each chip's slots from its own seed
                    per = [layer_input(s[c * batch:(c + 1) * batch], layers[l], n_slots, False,
                                       slots(seeds[c], l, t, image_inputs[l]))
                           for c in range(chips)]
                    i_exc, i_inh = (torch.cat([p[k] for p in per], dim=1) for k in range(2))
            s, states[l] = model.step(states[l], i_exc, i_inh)
            totals[l] += s
        if t in wanted:
            predictions[t] = readout(totals[-1], model.membrane(states[-1]))
    runs = []
    for c, m in enumerate(models):
        lo, hi = c * batch, (c + 1) * batch
        counters: dict[str, int] = {}
        for st in states:
            for k, v in m.counters(_rows(st, lo, hi, rows)).items():
                counters[k] = counters.get(k, 0) + int(v)
        runs.append(SNNRun(totals[-1][lo:hi], {t: p[lo:hi] for t, p in predictions.items()},
                           [], counters))
    return runs


def evaluate_chips(net: SpikingNetwork, models: list[NeuronModel], images: torch.Tensor,
                   labels: torch.Tensor, T: int, coding: str = "constant",
                   batch_size: int = 1000, seeds: list[int] | int = 0,
                   checkpoints: tuple[int, ...] = (), progress: bool = True,
                   device: torch.device | str | None = None) -> list[Evaluation]:
    """:func:`golden.snn.evaluate` of every chip in ``models`` in one pass over ``images``
    (``batch_size`` images, i.e. ``len(models) x batch_size`` rows, at a time): each chip's
    :class:`golden.snn.Evaluation`, equal to its lone evaluation with its seed of ``seeds``.
    ``seconds`` of each is the wall time of the whole pass (all chips)."""
    if batch_size < 1:
        raise ValueError(f"batch_size = {batch_size!r}: must be >= 1")
    check_chips(models)
    compute.keep_freed_memory()
    dev = compute.device() if device is None else torch.device(device)
    n, chips = images.shape[0], len(models)
    correct = [{} for _ in models]
    counters = [{} for _ in models]
    preds = [[] for _ in models]
    start = time.perf_counter()
    bar = tqdm(total=n, desc=f"SNN {chips} x {models[0].name} T={T}", unit="img",
               disable=not progress, leave=False)
    for lo in range(0, n, batch_size):
        xb, yb = images[lo:lo + batch_size], labels[lo:lo + batch_size]
        runs = run_chips(net, models, xb.to(dev), T, coding, seeds, checkpoints, first_image=lo)
        for c, run in enumerate(runs):
            for t, p in run.predictions.items():
                correct[c][t] = correct[c].get(t, 0) + int((p.cpu() == yb).sum())
            for k, v in run.counters.items():
                counters[c][k] = counters[c].get(k, 0) + v
            preds[c].append(run.predictions[T].cpu())
        bar.update(len(yb))
    bar.close()
    seconds = time.perf_counter() - start
    return [Evaluation(m.name, T, coding, n, {t: v / n for t, v in sorted(correct[c].items())},
                       counters[c], seconds, torch.cat(preds[c]))
            for c, m in enumerate(models)]
