"""The one specification of the time-domain neuron array: :class:`ArrayParams`.

One frozen parameter object yields both implementations (like ``amaranth.lib.crc.Parameters``):

* :meth:`ArrayParams.create` builds the Amaranth component
  (:class:`rtl.neuron_array.NeuronArray`, Verilog top module ``td_neuron_array``);
* :meth:`ArrayParams.reference` (one time step), :meth:`ArrayParams.run_steps` (many steps)
  and :meth:`ArrayParams.cycle_reset` / :meth:`ArrayParams.cycle_step` (clock-cycle
  exact) are the bit-exact numpy golden
  model in :mod:`rtl.reference`.

Two counter architectures (``counter``):

* ``"sync"``: every oscillator pulse goes through a synchroniser into the ``clk`` domain and
  moves the neuron's up/down counter there (at most one pulse per two clock periods);
* ``"pulse"``: each oscillator clocks its own ripple counter (``pulse_counter_width`` bits per
  polarity); at the step strobe, in a quiet window with the oscillators stopped, the ``clk``
  domain reads both counters, integrates, compares and resets by subtraction, and clears them.

Options of both: per-neuron thresholds, and per-CCO trim weights (``trim_bits``); of
``"sync"``: the ``window`` clock gate of the synchronisers (``clock_gating``).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Top module name of the exported Verilog.
TOP_NAME = "td_neuron_array"
#: Most neurons of one array: a network layer is split over arrays (the MNIST runs use 64
#: neurons each), and elaborating an array costs memory and time in proportion to its neurons
#: (docs/performance.md), so larger arrays are refused rather than left to run for hours.
MAX_NEURONS = 1 << 14
#: The counter architectures.
COUNTERS = ("sync", "pulse")
#: Fraction bits of the trim weights that calibration needs (docs/rtl.md, "Trim"): a weight LSB
#: of 2^-12 leaves a quantisation error of at most 0.018 % of the gain (rms 0.011 %).
TRIM_BITS_DEFAULT = 12


def _check_int(name: str, value, lo: int, hi: int | None = None, why: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"ArrayParams.{name} must be an int, not {type(value).__name__} "
                        f"({value!r})")
    if value < lo or (hi is not None and value > hi):
        allowed = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"ArrayParams.{name} = {value} is out of range: allowed {allowed}"
                         f"{why}")


def _check_bool(name: str, value) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"ArrayParams.{name} must be a bool, not {type(value).__name__} "
                        f"({value!r})")


@dataclass(frozen=True)
class ArrayParams:
    """Configuration of a ``td_neuron_array``: one spec, golden model and RTL.

    Parameters
    ----------
    n_neurons : int, in [1, MAX_NEURONS]
        Neurons in the array (each with one excitatory and one inhibitory pulse input).
    counter_width : int, in [2, 62] (bits)
        Integer bits of each neuron's signed two's-complement counter: it holds
        ``-2**(counter_width-1)`` to ``2**(counter_width-1) - 1`` pulses and saturates at both
        ends (sticky overflow flag), never wraps (with trim in steps of ``2**-trim_bits``).
    threshold_width : int, in [2, counter_width - 1] (bits)
        Width of the unsigned threshold register(s): thresholds ``0 .. threshold_max`` pulses.
        At most ``counter_width - 1`` so that every threshold fits in the counter's positive
        range.
    sync_stages : int, >= 2 (flip-flops)
        Depth of the synchroniser on each asynchronous pulse input of the ``"sync"``
        architecture; the pulse-to-count latency is ``sync_stages`` clock cycles (see
        :mod:`rtl.neuron_array`). Unused by ``"pulse"``.
    shared_threshold : bool
        ``True``: one threshold register for the whole array; ``False``: one per neuron,
        written by address.
    counter : str, ``"sync"`` or ``"pulse"``
        The counter architecture (module docstring).
    trim_bits : int, in [0, 16] (bits)
        ``F``: 0 for no trim; else per neuron two weight registers ``w_exc``, ``w_inh`` of
        ``F + 2`` bits (``0 .. 4 - 2**-F`` pulses, reset ``2**F`` = one pulse), and the
        counter carries ``F`` fraction bits: an excitatory pulse adds ``w_exc``, an inhibitory
        one subtracts ``w_inh`` (units ``2**-F`` pulse). :data:`TRIM_BITS_DEFAULT` is what
        calibration needs.
    clock_gating : bool
        ``"sync"`` only: a ``window`` input; the synchronisers and edge detectors are clocked
        only while ``window`` is high and ``sync_stages`` edges after it (an enable that
        synthesis maps to a clock-gate cell), so pulses count only in the oscillator window.
    pulse_counter_width : int, in [1, 16] (bits)
        ``"pulse"`` only: ``B``, bits of each ripple counter: at most ``2**B - 1`` pulses per
        polarity per step (more saturate with the neuron's overflow flag).
    """

    n_neurons: int = 8
    counter_width: int = 12
    threshold_width: int = 8
    sync_stages: int = 2
    shared_threshold: bool = True
    counter: str = "sync"
    trim_bits: int = 0
    clock_gating: bool = False
    pulse_counter_width: int = 7

    def __post_init__(self):
        _check_int("n_neurons", self.n_neurons, 1)
        if self.n_neurons > MAX_NEURONS:
            raise ValueError(f"ArrayParams.n_neurons = {self.n_neurons} is out of range: at most "
                             f"{MAX_NEURONS} per array (split a larger layer over several arrays)")
        _check_int("counter_width", self.counter_width, 2, 62,
                   " (the golden model computes in int64 with headroom for the pulse counts)")
        _check_int("threshold_width", self.threshold_width, 2, self.counter_width - 1,
                   f" (threshold_width <= counter_width - 1 = {self.counter_width - 1}, so "
                   "every threshold fits in the counter's positive range)")
        _check_int("sync_stages", self.sync_stages, 2)
        _check_bool("shared_threshold", self.shared_threshold)
        if self.counter not in COUNTERS:
            raise ValueError(f"ArrayParams.counter = {self.counter!r}: allowed "
                             f"{' or '.join(map(repr, COUNTERS))}")
        _check_int("trim_bits", self.trim_bits, 0, 16)
        _check_int("counter_width + trim_bits", self.counter_width + self.trim_bits, 2, 62,
                   " (the counter register holds counter_width + trim_bits bits)")
        _check_bool("clock_gating", self.clock_gating)
        if self.clock_gating and self.counter != "sync":
            raise ValueError("ArrayParams.clock_gating = True needs counter = 'sync': the "
                             "'pulse' counters run on the oscillators and need no window gate")
        _check_int("pulse_counter_width", self.pulse_counter_width, 1, 16)

    # ---- derived quantities ------------------------------------------------------------
    @property
    def count_bits(self) -> int:
        """Width of each counter register: ``counter_width + trim_bits`` (bits)."""
        return self.counter_width + self.trim_bits

    @property
    def count_min(self) -> int:
        """Lowest counter value, in counter LSBs (``2**-trim_bits`` pulse; pulses without
        trim): ``-2**(count_bits-1)``."""
        return -(1 << (self.count_bits - 1))

    @property
    def count_max(self) -> int:
        """Highest counter value, in counter LSBs: ``2**(counter_width-1) - 1`` pulses, i.e.
        ``(2**(counter_width-1) - 1) 2**trim_bits`` (the same rail in pulses with and without
        trim: weights at their reset value give exactly the untrimmed arithmetic)."""
        return ((1 << (self.counter_width - 1)) - 1) << self.trim_bits

    @property
    def threshold_max(self) -> int:
        """Largest threshold (pulses): ``2**threshold_width - 1``; also the reset value."""
        return (1 << self.threshold_width) - 1

    @property
    def trimmed(self) -> bool:
        """True where the array has trim weight registers (``trim_bits > 0``)."""
        return self.trim_bits > 0

    @property
    def weight_width(self) -> int:
        """Width of each trim weight register (``trim_bits + 2`` bits; 0 without trim)."""
        return self.trim_bits + 2 if self.trimmed else 0

    @property
    def weight_one(self) -> int:
        """The weight of one pulse in counter LSBs, ``2**trim_bits``: the weights' reset value."""
        return 1 << self.trim_bits

    @property
    def weight_max(self) -> int:
        """Largest trim weight (counter LSBs): ``2**(trim_bits+2) - 1``, just under 4 pulses."""
        return (1 << self.weight_width) - 1 if self.trimmed else 1

    @property
    def pulse_max(self) -> int | None:
        """``"pulse"``: pulses per polarity per step the ripple counter holds,
        ``2**pulse_counter_width - 1``; ``"sync"``: None (the synchroniser's limit is a rate,
        one pulse per two clock periods)."""
        return (1 << self.pulse_counter_width) - 1 if self.counter == "pulse" else None

    @property
    def sel_width(self) -> int:
        """Width of the neuron address ports ``sel``, ``th_sel``, ``tr_sel`` (bits, >= 1)."""
        return max(1, (self.n_neurons - 1).bit_length())

    @property
    def pulse_latency(self) -> int:
        """``"sync"``: clock edges from the edge that first samples a pulse input high (edge
        0) to the edge that updates the count with it: ``sync_stages`` (the edge detector
        compares the last synchroniser stage with its delayed copy, the counter updates at the
        same edge). ``"pulse"``: 0, a pulse is counted at once in its ripple counter and
        integrated at the next step strobe."""
        return self.sync_stages if self.counter == "sync" else 0

    @property
    def step_latency(self) -> int:
        """Edges from the step edge to the edge that updates counts and spikes: 0, except
        ``"pulse"`` with trim, whose bit-serial multiply takes ``pulse_counter_width - 1``
        more edges (:meth:`rtl.neuron_array.NeuronArray._sequencer`)."""
        serial = self.counter == "pulse" and self.trimmed
        return self.pulse_counter_width - 1 if serial else 0

    @property
    def step_constants(self) -> dict:
        """The keyword arguments of :func:`rtl.reference.array_step` for this array:
        ``frac_bits``, ``count_min``, ``count_max``, ``pulse_max``."""
        return {"frac_bits": self.trim_bits, "count_min": self.count_min,
                "count_max": self.count_max, "pulse_max": self.pulse_max}

    @property
    def name(self) -> str:
        """Short tag of this configuration, e.g. ``n8_c12_t8_s2_shared`` (``"sync"``),
        ``n8_c12_t8_p7_shared`` (``"pulse"``), with ``_f12`` (trim) and ``_cg`` (window
        clock gate) where they apply."""
        kind = "shared" if self.shared_threshold else "perneuron"
        arch = (f"s{self.sync_stages}" if self.counter == "sync"
                else f"p{self.pulse_counter_width}")
        return (f"n{self.n_neurons}_c{self.counter_width}_t{self.threshold_width}_{arch}_{kind}"
                + (f"_f{self.trim_bits}" if self.trimmed else "")
                + ("_cg" if self.clock_gating else ""))
