"""Run a converted SNN with any neuron model and measure its accuracy.

Input coding (layer 0 input ``s_j(t)``):

* ``"constant"`` (default): the pixel intensity in [0, 1] is injected as an analog input
  current at every step;
* ``"bernoulli"``: at each step pixel ``j`` emits a spike with probability equal to its
  intensity, drawn from the stream ``(seed, step)`` of :mod:`golden.noise`, keyed by image.

Each layer's input is split into excitatory and inhibitory parts,
``i_exc = W+ @ s`` and ``i_inh = W- @ s`` with ``W+ = max(W, 0)``, ``W- = max(-W, 0)``
(biases add to the side of their sign). When a model asks for ``n_slots > 1`` sub-slots
(asynchronous arrival), every presynaptic spike is given a random slot (stream ``(seed, layer,
step)``, keyed by image); analog inputs (constant coding, biases) are spread evenly over the
slots.

Exact inputs. The weights and biases are quantised once to multiples of 2^-24 input units
(:data:`WEIGHT_GRID_BITS`; a float32 weight of magnitude >= 0.5 is on that grid already, a
smaller one moves by at most 2^-25, below the float32 rounding of the sums they enter), and a
constant-coded pixel is taken as its 8-bit level ``k`` (``round(255 x)``, :data:`INPUT_LEVELS`;
MNIST's pixels are exactly ``k / 255``). A layer's input is then an integer sum of integer
products, formed in float64 where every partial sum is an integer below 2^53, so it is exact
in any summation order (any BLAS, batch size or device), and one multiplication by a constant
and one rounding to float32 give the current (:func:`layer_input`).

Every random draw is keyed by the image's index in the data set (``first_image`` + its row):
an image gets the same spikes whatever batch it is evaluated in and whatever the batch size.

Readout: the class with the most output spikes; ties are broken by the larger output
membrane potential (in units of theta), then by the lower class index.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from tqdm import tqdm

from . import compute, noise
from .network import SpikingNetwork
from .neuron import NeuronModel

CODINGS = ("constant", "bernoulli")


#: most time steps of a run: the spike counts are float32 tensors, whose integers are exact up
#: to 2**24 (one more spike would not count)
MAX_STEPS = 1 << 24


def readout(counts: torch.Tensor, membrane: torch.Tensor) -> torch.Tensor:
    """Predicted class per row: most spikes, ties broken by membrane potential.

    ``counts`` and ``membrane`` have shape (batch, classes); ``membrane`` is in units of theta.
    """
    best = counts.max(dim=1, keepdim=True).values
    masked = torch.where(counts == best, membrane, torch.full_like(membrane, -torch.inf))
    return masked.argmax(dim=1)


@dataclass
class SNNRun:
    """What one forward run of a batch returns.

    Attributes
    ----------
    counts : (batch, classes) output spike counts after T steps.
    predictions : dict mapping a checkpoint step t to the (batch,) predictions at t.
    rates : list of (batch, n) spike counts per hidden layer divided by T (only if recorded).
    counters : summed model event counters (e.g. overflows).
    """

    counts: torch.Tensor
    predictions: dict[int, torch.Tensor]
    rates: list[torch.Tensor] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)


#: weights and biases are multiples of 2^-WEIGHT_GRID_BITS input units in the evaluator
WEIGHT_GRID_BITS = 24
#: a constant-coded input is one of the levels k / INPUT_LEVELS, k = 0 .. INPUT_LEVELS (8-bit pixels)
INPUT_LEVELS = 255
#: the largest integer every partial sum of a layer input must stay below to be exact in float64
_EXACT = 2.0 ** 53


def grid_weights(w: torch.Tensor) -> torch.Tensor:
    """``w`` (input units) on the evaluator's grid, in grid units: float64 integers
    ``round(w 2^24)`` (half to even). ``grid_weights(w) * 2^-24`` is a float32 value for any
    float32 ``w``, so quantising twice changes nothing."""
    return w.to(torch.float64).mul(2.0 ** WEIGHT_GRID_BITS).round_()


def on_grid(net: SpikingNetwork) -> SpikingNetwork:
    """``net`` with its weights and biases on the evaluator's grid (float32, exact): the
    network the evaluator runs, as a network (e.g. to store it)."""
    def q(x):
        return None if x is None else (grid_weights(x) * 2.0 ** -WEIGHT_GRID_BITS).float()
    return SpikingNetwork(tuple(q(w) for w in net.weights), tuple(q(b) for b in net.biases),
                          net.scales, {**net.meta, "weight_grid_bits": WEIGHT_GRID_BITS})


@dataclass(frozen=True)
class _Layer:
    """One layer's constants for :func:`layer_input`, computed once per run: the transposed
    positive and negative weight parts (``(n_in, n_out)`` views) and the bias parts, in grid
    units (:func:`grid_weights`: float64 integers; biases None without), and ``magnitude``, the
    largest sum of a neuron's absolute weights and bias (grid units): every partial sum of its
    input is below ``magnitude`` times the largest input level."""

    w_pos: torch.Tensor
    w_neg: torch.Tensor
    b_pos: torch.Tensor | None
    b_neg: torch.Tensor | None
    magnitude: float

    @classmethod
    def of(cls, w: torch.Tensor, bias: torch.Tensor | None, device: torch.device) -> _Layer:
        w = grid_weights(w)
        total = w.abs().sum(1)
        if bias is None:
            bp = bn = None
        else:
            bias = grid_weights(bias)
            total = total + bias.abs()
            bp, bn = bias.clamp(min=0).to(device), (-bias).clamp(min=0).to(device)
        w = w.to(device)
        wp, wn = w.clamp(min=0), (-w).clamp(min=0)
        return cls(wp.T, wn.T, bp, bn, float(total.max()))


def layer_constants(net: SpikingNetwork, device: torch.device | str = "cpu") -> list[_Layer]:
    """Every layer's constants for :func:`layer_input`, on ``device``."""
    return [_Layer.of(w, b, torch.device(device)) for w, b in zip(net.weights, net.biases)]


#: purpose tags of the evaluator's random streams (:func:`golden.noise.stream_key`)
_INPUT_SPIKES, _ARRIVAL_SLOTS = 1, 2


@compute.fused
def slot_parts(s: torch.Tensor, base: torch.Tensor, key: torch.Tensor, n_slots: int) -> torch.Tensor:
    """The spikes ``s`` (batch, n_in) split into their arrival slots, (n_slots, batch, n_in)
    float64: each spike in the slot ``floor(u n_slots)`` of its uniform ``u`` of the stream
    ``key`` (0-dim int64) at the counters ``base`` (:attr:`golden.noise.Counters.base`), 0
    elsewhere. ``u n_slots`` rounds up to ``n_slots`` for the top draw (u = 1 - 2^-25 in
    float32): that spike has no slot and is dropped (probability 2^-24 per draw), as it always
    was. One fused loop (:func:`golden.compute.fused`): the hash, the slot and the split,
    where the draw, a zeroed (n_slots + 1)-slab tensor and a scatter cost 2.5 times as long."""
    slot = (noise.uniform_of(noise.bits_at(key, base)) * n_slots).to(torch.int64)
    k = torch.arange(n_slots, device=s.device).view(-1, 1, 1)
    return torch.where(slot == k, s.to(torch.float64), 0.0)


def layer_input(s: torch.Tensor, layer: _Layer, n_slots: int, analog: bool,
                 slot_stream: tuple[int, noise.Counters] | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Excitatory and inhibitory input (float32, input units) of one layer for one step (see
    the module docstring): ``(batch, n_out)``, or ``(n_slots, batch, n_out)`` with
    ``n_slots > 1`` (analog inputs: the same tensor expanded over the slots).

    ``s`` (batch, n_in): spikes (0/1) or, when ``analog``, intensities in [0, 1] (taken as
    their 8-bit levels ``round(255 s)``). ``slot_stream`` = (stream key, counters of the
    layer's inputs) of the arrival-slot draws (spikes with ``n_slots > 1`` only).

    Exact by construction: the sums of integer levels times grid weights are integers below
    2^53 (checked), so float64 forms them exactly in any order; the current is then
    ``numerator x scale`` rounded to float32, with the integer numerator ``sum + bias``
    (``sum + 255 bias`` for analog inputs, ``n_slots sum + bias`` per slot for slotted
    spikes) and the constant ``scale`` (2^-24, over 255 for analog inputs, over ``n_slots``
    where the input is spread over the slots): the same bits on every device and batch.
    """
    levels = INPUT_LEVELS if analog else 1
    per_slot = n_slots if n_slots > 1 and not analog else 1
    if max(levels, per_slot) * layer.magnitude >= _EXACT:
        raise ValueError(f"layer input: a neuron's absolute weights sum to {layer.magnitude:g} "
                         f"x 2^-{WEIGHT_GRID_BITS} input units; times {max(levels, per_slot)} "
                         "(input levels or slots) that must stay below 2^53 to be summed exactly")
    scale = 2.0 ** -WEIGHT_GRID_BITS
    if analog:
        x = torch.round(s.to(torch.float32) * float(INPUT_LEVELS)).to(torch.float64)
        scale = scale / (INPUT_LEVELS * n_slots)
    elif n_slots > 1:
        key, counters = slot_stream
        x = slot_parts(s, counters.base, torch.tensor(key, device=s.device), n_slots)
        scale = scale / n_slots
    else:
        x = s.to(torch.float64)
    sums = []
    for w, b in ((layer.w_pos, layer.b_pos), (layer.w_neg, layer.b_neg)):
        total = x @ w                                     # exact: integers below 2^53
        if per_slot > 1:
            total = total.mul_(per_slot)                  # exact: below 2^53 (checked)
        if b is not None:
            total = total.add_(b * levels)
        sums.append(total.mul_(scale).to(torch.float32))
    i_exc, i_inh = sums
    if analog and n_slots > 1:
        i_exc, i_inh = i_exc.expand(n_slots, -1, -1), i_inh.expand(n_slots, -1, -1)
    return i_exc, i_inh


def first_layer_current(net: SpikingNetwork, x: torch.Tensor) -> torch.Tensor:
    """The net first-layer input ``i_exc - i_inh`` (input units, (batch, n_1)) of constant
    coding, formed as the evaluator forms it (one time slot); for a peer simulator given the
    same precomputed current."""
    i_exc, i_inh = layer_input(x.to(torch.float32), layer_constants(net, x.device)[0], 1, True)
    return i_exc - i_inh


@torch.no_grad()
def run_batch(net: SpikingNetwork, model: NeuronModel, x: torch.Tensor, T: int,
              coding: str = "constant", seed: int = 0, checkpoints: tuple[int, ...] = (),
              record_rates: bool = False, first_image: int = 0) -> SNNRun:
    """Simulate one batch of inputs ``x`` (batch, n_in), values in [0, 1], for ``T`` steps.

    Row ``r`` of ``x`` is image ``first_image + r`` of its data set: the key of its random
    draws (see the module docstring). The run happens on ``x``'s device; the returned tensors
    are there too."""
    if coding not in CODINGS:
        raise ValueError(f"coding = {coding!r}: allowed values are {CODINGS}")
    if not 1 <= T <= MAX_STEPS:
        raise ValueError(f"T = {T!r} steps: must be in [1, {MAX_STEPS}] (spike counts are "
                         f"float32, exact to 2**24)")
    x = x.to(torch.float32)
    batch, dev = x.shape[0], x.device
    if first_image < 0:
        raise ValueError(f"first_image = {first_image}: must be >= 0")
    ids = torch.arange(first_image, first_image + batch, device=dev)
    layers = layer_constants(net, dev)
    # the counters of the input-spike and arrival-slot draws of each layer's inputs
    inputs = [noise.Counters(ids, w.shape[1]) for w in net.weights]
    states = [model.init_state(batch, w.shape[0], l, image_ids=ids)
              for l, w in enumerate(net.weights)]
    n_layers = len(net.weights)
    totals = [torch.zeros(batch, w.shape[0], device=dev) for w in net.weights]
    predictions = {}
    wanted = set(checkpoints) | {T}
    # Constant coding injects the same analog current every step: compute it once.
    constant_input = (layer_input(x, layers[0], model.n_slots, True)
                      if coding == "constant" else None)
    slotted = model.n_slots > 1
    for t in range(1, T + 1):
        if constant_input is not None:
            i_exc, i_inh = constant_input
        else:
            u = noise.uniform_at(noise.stream_key(seed, _INPUT_SPIKES, t), inputs[0])
            s = (u < x).to(torch.float32)
            i_exc, i_inh = layer_input(s, layers[0], model.n_slots, False, (
                noise.stream_key(seed, _ARRIVAL_SLOTS, 0, t), inputs[0]) if slotted else None)
        for l in range(n_layers):
            if l > 0:
                i_exc, i_inh = layer_input(s, layers[l], model.n_slots, False, (
                    noise.stream_key(seed, _ARRIVAL_SLOTS, l, t), inputs[l]) if slotted else None)
            s, states[l] = model.step(states[l], i_exc, i_inh)
            totals[l] += s
        if t in wanted:
            predictions[t] = readout(totals[-1], model.membrane(states[-1]))
    counters: dict[str, int] = {}
    for st in states:
        for k, v in model.counters(st).items():
            counters[k] = counters.get(k, 0) + int(v)
    rates = [totals[l] / T for l in range(n_layers - 1)] if record_rates else []
    return SNNRun(totals[-1], predictions, rates, counters)


@dataclass
class Evaluation:
    """Accuracy of one neuron model on a data set.

    ``accuracy`` maps each checkpoint step t (including T) to the fraction correct.
    """

    model: str
    T: int
    coding: str
    n_images: int
    accuracy: dict[int, float]
    counters: dict[str, int]
    seconds: float
    predictions: torch.Tensor

    @property
    def error_pct(self) -> float:
        """Error rate at T, in percent."""
        return 100.0 * (1.0 - self.accuracy[self.T])


def evaluate(net: SpikingNetwork, model: NeuronModel, images: torch.Tensor, labels: torch.Tensor,
             T: int, coding: str = "constant", batch_size: int = 1000, seed: int = 0,
             checkpoints: tuple[int, ...] = (), progress: bool = True,
             device: torch.device | str | None = None) -> Evaluation:
    """Accuracy of ``model`` in network ``net`` on ``images`` (N, n_in) in [0, 1].

    The run is deterministic and does not depend on ``batch_size`` or the device: every
    random draw is keyed by ``seed`` and the image's index in ``images``, and the layer inputs
    are exact (a model whose compiled kernels agree with its eager functions only to a
    tolerance, cm, may move within that tolerance where a batch is too small to compile,
    :data:`golden.compute.FUSE_MIN_ELEMENTS`). ``device``: where the step loop runs (default:
    :func:`golden.compute.device`, set by ``--device``); the predictions are returned on the
    CPU.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size = {batch_size!r}: must be >= 1")
    compute.keep_freed_memory()
    dev = compute.device() if device is None else torch.device(device)
    n = images.shape[0]
    correct: dict[int, int] = {}
    counters: dict[str, int] = {}
    preds = []
    start = time.perf_counter()
    bar = tqdm(total=n, desc=f"SNN {model.name} T={T}", unit="img", disable=not progress,
               leave=False)
    for lo in range(0, n, batch_size):
        xb, yb = images[lo:lo + batch_size], labels[lo:lo + batch_size]
        run = run_batch(net, model, xb.to(dev), T, coding, seed, checkpoints, first_image=lo)
        for t, p in run.predictions.items():
            correct[t] = correct.get(t, 0) + int((p.cpu() == yb).sum())
        for k, v in run.counters.items():
            counters[k] = counters.get(k, 0) + v
        preds.append(run.predictions[T].cpu())
        bar.update(len(yb))
    bar.close()
    seconds = time.perf_counter() - start
    accuracy = {t: c / n for t, c in sorted(correct.items())}
    return Evaluation(model.name, T, coding, n, accuracy, counters, seconds, torch.cat(preds))
