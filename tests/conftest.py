"""Shared fixtures: the trained default network (trained once, cached in artifacts/)."""

import pytest


@pytest.fixture(scope="session")
def prepared():
    from golden.pipeline import prepare
    return prepare(progress=False)
