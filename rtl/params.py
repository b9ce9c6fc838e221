"""The one specification of the time-domain neuron array: :class:`ArrayParams`.

One frozen parameter object yields both implementations (like ``amaranth.lib.crc.Parameters``):

* :meth:`ArrayParams.create` builds the Amaranth component
  (:class:`rtl.neuron_array.NeuronArray`, Verilog top module ``td_neuron_array``);
* :meth:`ArrayParams.reference` (one time step), :meth:`ArrayParams.run_steps` (many steps)
  and :meth:`ArrayParams.cycle_reset` / :meth:`ArrayParams.cycle_step` (clock-cycle
  exact) are the bit-exact numpy golden
  model in :mod:`rtl.reference`.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Top module name of the exported Verilog.
TOP_NAME = "td_neuron_array"
#: Most neurons of one array: a network layer is split over arrays (the MNIST runs use 64
#: neurons each), and elaborating an array costs memory and time in proportion to its neurons
#: (docs/performance.md), so larger arrays are refused rather than left to run for hours.
MAX_NEURONS = 1 << 14


def _check_int(name: str, value, lo: int, hi: int | None = None, why: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"ArrayParams.{name} must be an int, not {type(value).__name__} "
                        f"({value!r})")
    if value < lo or (hi is not None and value > hi):
        allowed = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"ArrayParams.{name} = {value} is out of range: allowed {allowed}"
                         f"{why}")


@dataclass(frozen=True)
class ArrayParams:
    """Configuration of a ``td_neuron_array``: one spec, golden model and RTL.

    Parameters
    ----------
    n_neurons : int, in [1, MAX_NEURONS]
        Neurons in the array (each with one excitatory and one inhibitory pulse input).
    counter_width : int, in [2, 62] (bits)
        Width of each neuron's signed two's-complement up/down pulse counter; it holds
        ``count_min = -2**(counter_width-1)`` to ``count_max = 2**(counter_width-1) - 1``
        pulses and saturates at both ends (sticky overflow flag), never wraps.
    threshold_width : int, in [2, counter_width - 1] (bits)
        Width of the unsigned threshold register(s): thresholds ``0 .. threshold_max`` pulses.
        At most ``counter_width - 1`` so that every threshold fits in the counter's positive
        range.
    sync_stages : int, >= 2 (flip-flops)
        Depth of the synchroniser on each asynchronous pulse input; the pulse-to-count latency
        is ``sync_stages`` clock cycles (see :mod:`rtl.neuron_array`).
    shared_threshold : bool
        ``True``: one threshold register for the whole array; ``False``: one per neuron,
        written by address.
    """

    n_neurons: int = 8
    counter_width: int = 12
    threshold_width: int = 8
    sync_stages: int = 2
    shared_threshold: bool = True

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
        if not isinstance(self.shared_threshold, bool):
            raise TypeError(f"ArrayParams.shared_threshold must be a bool, not "
                            f"{type(self.shared_threshold).__name__} ({self.shared_threshold!r})")

    # ---- derived quantities ------------------------------------------------------------
    @property
    def count_min(self) -> int:
        """Lowest counter value (pulses): ``-2**(counter_width-1)``."""
        return -(1 << (self.counter_width - 1))

    @property
    def count_max(self) -> int:
        """Highest counter value (pulses): ``2**(counter_width-1) - 1``."""
        return (1 << (self.counter_width - 1)) - 1

    @property
    def threshold_max(self) -> int:
        """Largest threshold (pulses): ``2**threshold_width - 1``; also the reset value."""
        return (1 << self.threshold_width) - 1

    @property
    def sel_width(self) -> int:
        """Width of the neuron address ports ``sel`` and ``th_sel`` (bits, at least 1)."""
        return max(1, (self.n_neurons - 1).bit_length())

    @property
    def pulse_latency(self) -> int:
        """Clock edges from the edge that first samples a pulse input high (edge 0) to the edge
        that updates the count with it: ``sync_stages`` (the edge detector compares the last
        synchroniser stage with its delayed copy, the counter updates at the same edge)."""
        return self.sync_stages

    @property
    def name(self) -> str:
        """Short tag of this configuration, e.g. ``n8_c12_t8_s2_shared``."""
        kind = "shared" if self.shared_threshold else "perneuron"
        return (f"n{self.n_neurons}_c{self.counter_width}_t{self.threshold_width}"
                f"_s{self.sync_stages}_{kind}")

    # ---- the two implementations -------------------------------------------------------
    def create(self):
        """The Amaranth component (:class:`rtl.neuron_array.NeuronArray`) for this spec."""
        from .neuron_array import NeuronArray
        return NeuronArray(self)

    def reference(self, count, up, down, threshold):
        """One time step of the golden model: :func:`rtl.reference.step_counts`."""
        from .reference import step_counts
        return step_counts(self, count, up, down, threshold)

    def run_steps(self, up, down, threshold, count=0):
        """Many time steps of the golden model: :func:`rtl.reference.run_steps`."""
        from .reference import run_steps
        return run_steps(self, up, down, threshold, count)

    def cycle_reset(self):
        """Register state after reset for the cycle-exact model: :class:`rtl.reference.CycleState`."""
        from .reference import CycleState
        return CycleState.reset(self)

    def cycle_step(self, state, exc, inh, **ports):
        """One clock edge of the cycle-exact golden model: :func:`rtl.reference.cycle_step`."""
        from .reference import cycle_step
        return cycle_step(self, state, exc, inh, **ports)
