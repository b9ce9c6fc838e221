"""Today's evaluator gives the predictions recorded before its speed-up (every model, both codings).

The reference (tests/data/predictions.json, written by ``python -m tests.prediction_reference``)
holds the predictions of a seeded subset of the test set at T = 64 for the default network.
A network with other weights (another training config or torch build) has other predictions:
the test then says so and is skipped.
"""

import json

import pytest

from behavioral.bench import fingerprint
from behavioral.models import build
from golden.snn import evaluate
from tests.prediction_reference import CODINGS, MODELS, PATH, T, subset

REF = json.loads(PATH.read_text())


@pytest.fixture(scope="module")
def data(prepared):
    if fingerprint(prepared.net) != REF["network"]:
        pytest.skip("the trained network differs from the one the reference was made with "
                    f"(fingerprint {fingerprint(prepared.net)[:12]} != {REF['network'][:12]})")
    return prepared.net, *subset(prepared)


@pytest.mark.parametrize("coding", CODINGS)
@pytest.mark.parametrize("name", MODELS)
def test_predictions_equal_the_reference(data, name, coding):
    net, x, y = data
    ev = evaluate(net, build(name), x, y, T, coding, batch_size=128, progress=False)
    got = "".join(str(int(c)) for c in ev.predictions)
    want = REF["subset"][f"{name}/{coding}"]
    diff = [i for i, (a, b) in enumerate(zip(got, want)) if a != b]
    assert not diff, f"{name}/{coding}: {len(diff)} of {len(want)} predictions differ (rows {diff[:10]})"
