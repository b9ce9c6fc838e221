"""td_neuron_array: the time-domain neuron's digital half (Amaranth RTL and its golden model).

Start at :class:`rtl.params.ArrayParams`; see ``docs/rtl.md``.
"""
