"""The ideal neuron at ``n_th`` pulses per threshold: the reference that the td neuron with
every mechanism off (:mod:`behavioral.td_mechanisms`) must equal."""

import torch

from golden.neuron import IdealParams, IdealState, ideal_step


class QuantisedIdeal:
    """The ideal I&F neuron (:func:`golden.neuron.ideal_step`, reset by subtraction) fed, each
    step, its excitatory and inhibitory input quantised to 1/N_th of a threshold with the
    remainder carried: ``(floor(N_th E_t) - floor(N_th E_(t-1))) / N_th`` for the cumulative
    input ``E_t`` (in 2^-32 of a pulse: the float32 input times N_th is exact, its fixed point
    too on the evaluator's grid)."""

    name, n_slots = "quantised-ideal", 1

    def __init__(self, n_th: int):
        self.n_th = n_th

    def init_state(self, batch, n, layer, image_ids=None):
        zeros = torch.zeros(batch, n, dtype=torch.int64)
        return IdealState(torch.zeros(batch, n)), zeros, zeros.clone()

    def step(self, state, i_exc, i_inh):
        v, cum_e, cum_i = state
        fixed = [(z.double() * self.n_th * 2.0 ** 32).round().to(torch.int64) for z in (i_exc, i_inh)]
        new_e, new_i = cum_e + fixed[0], cum_i + fixed[1]
        up = (new_e >> 32) - (cum_e >> 32)
        down = (new_i >> 32) - (cum_i >> 32)
        spikes, v = ideal_step(IdealParams(1.0, "subtract"), v, up.float() / self.n_th,
                               down.float() / self.n_th)
        return spikes, (v, new_e, new_i)

    def membrane(self, state):
        return state[0].v

    def counters(self, state):
        return {}
