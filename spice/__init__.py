"""Transistor-level characterisation of the neuron circuits with ngspice.

Frozen parameter objects (:class:`spice.card.DeviceCard`, :class:`spice.mirror.MirrorParams`)
yield netlists; :mod:`spice.ngspice` runs ngspice in batch mode and reads its ``wrdata``
output; :mod:`spice.characterise` turns the sweeps into the ``dv_dq(V, signed I)`` tables that
:mod:`behavioral.cm_table` reads; :mod:`spice.network` runs the converted network with each
table; :mod:`spice.neuron` is one whole neuron in transient, which :mod:`spice.validation`
compares with the table-mode cm model (and the ring oscillator with td); :mod:`spice.mismatch`
draws Pelgrom threshold shifts per device and measures the spread of the mirror gains, the
comparator offset and the oscillator gain; :mod:`spice.energy` and :mod:`spice.cost` give the
supply charge per event and the area per neuron; :mod:`spice.ring_variants` is the td front
end's design space (ring variants, their Monte Carlo over currents, the shared-ring design),
written by :mod:`spice.ring_report`. The default device card is the PTM 22 nm
high-performance BSIM4 card
(``spice/cards/ptm-22nm-hp.pm``); a user's process is a :class:`~spice.card.DeviceCard`.
"""
