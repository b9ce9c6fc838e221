"""The arrival-slot split of the evaluator (:func:`golden.snn.slot_parts`, one fused kernel)
gives the bits of the same function run eagerly and of the draw-then-scatter it replaced.

Two shapes and image ranges (the compiled kernel is reused), two slot counts, rows that are
not a multiple of the vector width, and the top draw of the 24-bit field (u = 1 - 2^-25, whose
``u n_slots`` rounds up to ``n_slots``: the spike is dropped).
"""

import torch

from golden.noise import Counters, stream_key, uniform_at
from golden.snn import slot_parts
from tests.kernel_checks import compiled_only

#: the stream and the draw (image 8199, element 18 of 500: counter 4,099,518) whose 24-bit
#: field is 0xFFFFFF, found by a search over the counters
KEY = stream_key(0, 2, 1, 1)
TOP_IMAGE, TOP_ELEMENT, N_IN = 8199, 18, 500


def scatter_parts(s, key, counters, n_slots):
    """The previous formulation: draw the slot, scatter into a zeroed (n_slots + 1)-slab."""
    slot = (uniform_at(key, counters) * n_slots).to(torch.int64)
    parts = torch.zeros((n_slots + 1,) + s.shape, dtype=torch.float64)
    parts.scatter_(0, slot[None], s.to(torch.float64)[None])
    return parts[:n_slots]


@compiled_only
def test_slot_parts_compiled_equal_eager_and_the_scatter(fuse_small):
    gen = torch.Generator().manual_seed(11)
    for first, batch, n in ((TOP_IMAGE, 3, N_IN), (40, 37, 53)):
        counters = Counters(torch.arange(first, first + batch), n)
        s = (torch.rand(batch, n, generator=gen) < 0.5).to(torch.float32)
        s[0, TOP_ELEMENT] = 1.0
        for n_slots in (4, 3):
            args = (s, counters.base, torch.tensor(KEY), n_slots)
            got = slot_parts(*args)
            assert got.dtype == torch.float64 and got.shape == (n_slots, batch, n)
            assert torch.equal(got, slot_parts.__wrapped__(*args))
            assert torch.equal(got, scatter_parts(s, KEY, counters, n_slots))
            assert (got.sum(0) == s).float().mean() > 0.99 and got.sum() > 0
    top = Counters(torch.tensor([TOP_IMAGE]), N_IN)
    assert uniform_at(KEY, top)[0, TOP_ELEMENT] == 1.0 - 2.0 ** -25
    parts = slot_parts(torch.ones(1, N_IN), top.base, torch.tensor(KEY), 4)
    assert parts[:, 0, TOP_ELEMENT].sum() == 0 and parts.sum() == N_IN - 1   # dropped, alone
