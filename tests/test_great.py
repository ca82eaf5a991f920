"""`great` (be-great wrapper): a smoke fit on an adult-like table, the row parser, and the cheap pieces."""
import numpy as np
import pandas as pd
import pytest

from harness.api import TableMetadata
from methods import METHODS
from methods.great import GReaTMethod
from methods.great.rows import RowText, format_number, safe_text

SAMPLING_KEYS = {"requested", "valid", "decoded", "valid_rate", "valid_rows_per_s"}


@pytest.fixture(scope="module")
def adultish():
    """60 adult-like rows: dotted column names, integer-valued float numerics, a float numeric, no NaN."""
    rng = np.random.default_rng(0)
    n = 60
    age = rng.integers(18, 70, n).astype(float)
    df = pd.DataFrame({
        "age": age, "workclass": rng.choice(["Private", "State-gov", "Self-emp-inc"], n),
        "education.num": rng.integers(1, 16, n).astype(float), "hours.per.week": rng.normal(40, 5, n).round(1),
        "income": np.where(age + rng.normal(0, 5, n) > 40, ">50K", "<=50K")})
    cat = ["workclass", "income"]
    meta = TableMetadata(columns=list(df.columns), numerical=["age", "education.num", "hours.per.week"],
                         categorical=cat, target="income", task_type="binclass",
                         categories={c: sorted(df[c].unique()) for c in cat})
    return df, meta


@pytest.fixture(scope="module")
def fitted(adultish):
    df, meta = adultish
    return GReaTMethod.from_profile("smoke").fit(df, meta)


def test_registered():
    assert METHODS.get("great") is GReaTMethod


def test_smoke_fit_sample_records_valid_rate(fitted, adultish):
    df, meta = adultish
    out = fitted.sample(20, seed=0)
    assert len(out) == 20 and list(out.columns) == meta.columns
    for c in meta.numerical:
        assert out[c].dtype == df[c].dtype and out[c].notna().all(), c
    for c in meta.categorical:
        assert set(out[c]) <= set(meta.categories[c]), c
    rec = fitted.extra_record()
    s = rec["sampling"]
    assert SAMPLING_KEYS <= set(s)
    assert s["requested"] == s["valid"] == 20 and s["decoded"] >= 20
    # every parsed row counts, including those decoded past the 20 requested (as DiffLM's rate)
    parsed = s["valid_rate"] * s["decoded"]
    assert 20 <= round(parsed) <= s["decoded"] and parsed == pytest.approx(round(parsed))
    assert s["decoding"] == "free" and s["llm"] == fitted.llm
    assert s["valid_rows_per_s"] > 0
    invalid = s["decoded"] - round(parsed)
    assert sum(s["invalid_reasons"].values()) == invalid
    assert set(s["invalid_examples"]) == set(s["invalid_reasons"])             # a decoded text for each reason
    assert all(1 <= len(v) <= 2 and all(isinstance(t, str) for t in v) for v in s["invalid_examples"].values())
    assert rec["train"]["rows"] == 60 and rec["train"]["steps"] > 0
    assert any("loss" in h for h in rec["history"])


def test_parser_keeps_only_complete_known_rows(fitted):
    from be_great.great_utils import _convert_text_to_tabular_data

    texts = ["income is >50K, age is 39, workclass is Private, education.num is 13, hours.per.week is 40.5",
             "income is >50K, age is 39, workclass is Unknown-gov, education.num is 13, hours.per.week is 40",
             "income is <=50K, age is 39, workclass is Private, hours.per.week is 40",
             "income is <=50K, age is old, workclass is Private, education.num is 13, hours.per.week is 40"]
    parsed = _convert_text_to_tabular_data(texts, list(fitted.great_.columns)).to_dict(orient="records")
    results = [fitted.rows_.parse(r) for r in parsed]
    assert results[0] == ({"age": 39.0, "workclass": "Private", "education.num": 13.0, "hours.per.week": 40.5,
                           "income": ">50K"}, "")
    assert [why for _, why in results[1:]] == ["unknown category", "column not generated", "not a number"]


def test_no_valid_rows_raises(fitted, monkeypatch):
    monkeypatch.setattr(fitted, "max_length_", 6)       # every row is cut off after its first value
    with pytest.raises(RuntimeError, match="valid rows"):
        fitted.sample(5, seed=0)
    assert fitted.extra_record()["sampling"]["valid"] == 0


@pytest.mark.parametrize("bad", [{"device": "tpu"}, {"epochs": 0}, {"temperature": 0}, {"max_samples": -1}])
def test_bad_params_raise_in_fit(bad, adultish):
    df, meta = adultish
    m = GReaTMethod(**bad)
    assert m.get_params()[next(iter(bad))] == next(iter(bad.values()))   # stored verbatim
    with pytest.raises(ValueError):
        m.fit(df, meta)


def test_sample_budget_caps():
    assert GReaTMethod(max_samples=150).sample_budget(29304) == 150
    assert GReaTMethod(max_samples=None).sample_budget(29304) == 29304
    assert GReaTMethod.from_profile("cpu").sample_budget(100) == 100


def test_text_encoding():
    assert [format_number(v, 7) for v in (39.0, 189916.0, 0.1 + 0.2, -1.5e-7, np.nan)] == \
        ["39", "189916", "0.3", "-0.00000015", "None"]
    assert safe_text("education.num") == "education.num"
    assert safe_text("Self-emp, inc") == "Self-emp; inc" and safe_text("x is y") == "x is_ y"
    assert safe_text("None") == "None_"


def test_missing_values_round_trip_only_where_train_had_them(adultish):
    """NaN is written as be-great's "None" and accepted back only in columns that had NaN in training."""
    df, meta = adultish
    with_nan = df.copy()
    with_nan.loc[5, "hours.per.week"], with_nan.loc[7, "workclass"] = np.nan, None
    m = RowText.fit(with_nan, meta, digits=3)
    assert m.nullable == ["hours.per.week", "workclass"]
    row = df.iloc[:1].copy()
    row.loc[0, "hours.per.week"], row.loc[0, "workclass"] = np.nan, None
    text = m.encode_frame(row).iloc[0].to_dict()
    assert text["hours.per.week"] == "None" and text["workclass"] == "None" and text["age"] == format_number(df.age[0], 3)
    as_parsed = {k: (None if v == "None" else v) for k, v in text.items()}     # be-great's parser maps "None" to None
    parsed, why = m.parse(as_parsed)
    assert why == "" and np.isnan(parsed["hours.per.week"]) and np.isnan(parsed["workclass"])
    assert m.parse({**as_parsed, "age": None}) == (None, "missing value")
