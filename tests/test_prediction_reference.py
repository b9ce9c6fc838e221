"""Today's evaluator gives the predictions recorded before its speed-up (every model, both codings).

The reference (tests/data/predictions.json, written by ``python -m tests.prediction_reference``)
holds the predictions of a seeded subset of the test set at T = 64 for the default network
(cm-table: the committed SPICE table, see ``tests/prediction_reference.py``).
A network with other weights (another training config or torch build) has other predictions:
the test then says so and is skipped.
"""

import json

import pytest

from behavioral.bench import fingerprint
from golden.snn import evaluate
from tests.prediction_reference import (CODINGS, MODELS, PATH, TABLE, T, model, subset,
                                       table_sha256)

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
    ev = evaluate(net, model(name), x, y, T, coding, batch_size=128, progress=False)
    got = "".join(str(int(c)) for c in ev.predictions)
    want = REF["subset"][f"{name}/{coding}"]
    diff = [i for i, (a, b) in enumerate(zip(got, want)) if a != b]
    assert not diff, f"{name}/{coding}: {len(diff)} of {len(want)} predictions differ (rows {diff[:10]})"


def test_the_committed_table_is_the_one_recorded():
    assert table_sha256(TABLE) == REF["cm_table_sha256"], (
        f"{TABLE} differs from the table the cm-table reference was recorded with")
