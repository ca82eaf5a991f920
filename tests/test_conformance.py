"""One set of checks for every registered method (scikit-learn's check_estimator idea), on every modality
it declares: the tiny table, and tiny text, code and JSON corpora (conftest.py)."""
import copy
import json
import os

import pandas as pd
import pytest

from harness.api import MODALITIES, DataError, NotFittedError
from methods import METHODS

NAMES = METHODS.names()
RECORD_CASES = [(name, mod) for name in NAMES for mod in MODALITIES
                if mod != "table" and METHODS.get(name).handles(mod)]
TABLE_ONLY = [name for name in NAMES if set(METHODS.get(name).modalities) == {"table"}]
# Methods that run in their own environment (harness.api.envs) fit only where it is built; one of them (the
# fastest) stands for the shared wrapper here, tests/test_synthcity.py runs the others through the harness.
REQUIRED_ENVS = os.environ.get("DIFFLM_REQUIRE_ENVS", "").split(",")
OWN_ENV = [n for n in NAMES if METHODS.get(n).environment is not None]
FIT_NAMES = [n for n in NAMES if n not in OWN_ENV] + [
    n for n in OWN_ENV if n == "bayesnet"
    and (METHODS.get(n).environment.ready() or METHODS.get(n).environment.name in REQUIRED_ENVS)]


def make(name, seed=0):
    cls = METHODS.get(name)
    params = {"seed": seed} if "seed" in cls._param_names() else {}
    return cls.from_profile("smoke", **params)


def test_declared_modalities():
    assert set(TABLE_ONLY) == {"smote", "ctgan", "tvae", "tabsyn", "great", "tabddpm", "arf", "bayesnet", "nflow"}
    assert set(OWN_ENV) == {"tabddpm", "arf", "bayesnet", "nflow"}
    every = ["real", "difflm", "difflm-memory", "difflm-embed", "difflm-cycle", "difflm-nodiff"]
    assert all(set(METHODS.get(n).modalities) == set(MODALITIES) for n in every)


@pytest.mark.parametrize("name", NAMES)
def test_cost_for_every_profile(name):
    cls = METHODS.get(name)
    assert set(cls.profiles) <= set(cls.cost) and all(isinstance(v, str) and v for v in cls.cost.values())


@pytest.mark.parametrize("name", NAMES)
def test_params_roundtrip(name):
    m = make(name)
    params = m.get_params()
    json.dumps(params)
    assert type(m)(**params).get_params() == params
    assert not [k for k in vars(m) if k.endswith("_")], "__init__ must not set fitted attributes"


@pytest.mark.parametrize("name", NAMES)
def test_every_door_builds_the_same_method(name):
    """Cls() is the default profile; every profile survives a rebuild from get_params() (clone); an unknown
    profile is an error that names the method's profiles."""
    cls = METHODS.get(name)
    assert cls.default_profile in cls.profiles
    assert cls().get_params() == cls.from_profile(cls.default_profile).get_params()
    for profile in cls.profiles:
        params = cls.from_profile(profile).get_params()
        assert cls(**params).get_params() == params
        assert cls.resolve_profile(profile) in cls.profiles
    with pytest.raises(ValueError, match="no profile 'nope'.*" + "|".join(cls.profiles)):
        cls.from_profile("nope")


def test_variants_hold_whatever_the_door():
    from methods.difflm import DiffLMCycle, DiffLMMemory, DiffLMNoDiff
    assert DiffLMMemory().cfg().injector == "memory"
    assert DiffLMMemory(config=DiffLMMemory().config).cfg().injector == "memory"
    assert DiffLMNoDiff().cfg().diffusion is False and DiffLMCycle().cfg().beta_schedule == "cyclical"


def test_identical_profiles_are_one_profile():
    assert METHODS.get("ctgan").resolve_profile("paper") == "cpu"
    assert METHODS.get("tabsyn").resolve_profile("gpu") == "paper"
    assert METHODS.get("difflm").resolve_profile("paper") == "paper"


@pytest.mark.parametrize("name", NAMES)
def test_sample_before_fit_raises(name):
    with pytest.raises(NotFittedError):
        make(name).sample(3, seed=0)


@pytest.mark.parametrize("name", FIT_NAMES)
def test_fit_sample_contract(name, tiny, tmp_path):
    df, meta = tiny
    before = df.copy()
    m = make(name)
    assert m.fit(df, meta, work_dir=tmp_path / "work", cache_dir=tmp_path / "cache") is m
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


@pytest.mark.parametrize("name,modality", RECORD_CASES)
def test_fit_sample_records(name, modality, request):
    records, meta = request.getfixturevalue(f"{modality}_corpus")
    before = copy.deepcopy(records)
    m = make(name)
    assert m.fit(records, meta) is m
    assert records == before
    out = m.sample(12, seed=1)
    want = dict if modality == "json" else str
    assert isinstance(out, list) and len(out) == 12 and all(isinstance(r, want) for r in out)
    if modality == "json":
        assert all(set(meta.schema["required"]) <= set(r) for r in out)
    else:
        assert all(r.strip() for r in out)
    assert m.sample(12, seed=1) == out
    if not m.tags.get("deterministic"):
        assert m.sample(12, seed=2) != out


@pytest.mark.parametrize("name", TABLE_ONLY)
def test_table_only_methods_refuse_records(name, text_corpus, json_corpus):
    with pytest.raises(DataError, match=f"^{name} does not handle text records$"):
        make(name).fit(*text_corpus)
    with pytest.raises(DataError, match=f"^{name} does not handle json records$"):
        make(name).fit(*json_corpus)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_raises_value_error(name, tiny):
    df, meta = tiny
    with pytest.raises(ValueError, match="colour"):
        make(name).fit(df.drop(columns=["colour"]), meta)
    with pytest.raises(ValueError):
        make(name).fit(df.iloc[:0], meta)


@pytest.mark.parametrize("name,modality", RECORD_CASES)
def test_wrong_record_type_raises(name, modality, request):
    records, meta = request.getfixturevalue(f"{modality}_corpus")
    wrong = [{"x": 1}] * 3 if modality != "json" else ["text"] * 3
    with pytest.raises(DataError, match=f"{modality} record 0"):
        make(name).fit(wrong, meta)


@pytest.mark.parametrize("name", ["real", "smote"])
def test_table_without_target(name, tiny):
    from harness.api import TableMetadata
    df, meta = tiny
    untargeted = TableMetadata(columns=meta.columns, numerical=meta.numerical, categorical=meta.categorical,
                               categories=meta.categories)
    out = make(name).fit(df, untargeted).sample(30, seed=0)
    assert len(out) == 30 and list(out.columns) == meta.columns
