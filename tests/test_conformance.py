"""One set of checks for every registered method (scikit-learn's check_estimator idea)."""
import json

import pandas as pd
import pytest

from harness.api import NotFittedError
from methods import METHODS

NAMES = METHODS.names()


def make(name, seed=0):
    cls = METHODS.get(name)
    params = {"seed": seed} if "seed" in cls._param_names() else {}
    return cls.from_profile("smoke", **params)


@pytest.mark.parametrize("name", NAMES)
def test_params_roundtrip(name):
    m = make(name)
    params = m.get_params()
    json.dumps(params)
    assert type(m)(**params).get_params() == params
    assert not [k for k in vars(m) if k.endswith("_")], "__init__ must not set fitted attributes"


@pytest.mark.parametrize("name", NAMES)
def test_sample_before_fit_raises(name):
    with pytest.raises(NotFittedError):
        make(name).sample(3, seed=0)


@pytest.mark.parametrize("name", NAMES)
def test_fit_sample_contract(name, tiny):
    df, meta = tiny
    before = df.copy()
    m = make(name)
    assert m.fit(df, meta) is m
    pd.testing.assert_frame_equal(df, before)
    out = m.sample(25, seed=1)
    assert len(out) == 25 and list(out.columns) == meta.columns
    for c in meta.categorical:
        assert set(out[c].dropna().astype(str)) <= set(meta.categories[c]), c
    for c in meta.numerical:
        assert pd.to_numeric(out[c], errors="coerce").notna().all(), c
    again = m.sample(25, seed=1)
    pd.testing.assert_frame_equal(out.reset_index(drop=True), again.reset_index(drop=True))
    if not m.tags.get("deterministic"):
        assert not out.equals(m.sample(25, seed=2))


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_raises_value_error(name, tiny):
    df, meta = tiny
    with pytest.raises(ValueError, match="colour"):
        make(name).fit(df.drop(columns=["colour"]), meta)
    with pytest.raises(ValueError):
        make(name).fit(df.iloc[:0], meta)
