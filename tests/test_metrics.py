import numpy as np
import pandas as pd
import pytest

from tasks.metrics.dcr import dcr
from tasks.metrics.density import rho
from tasks.metrics.mle import MLEFailure, mle


def test_rho_identical_is_zero(tiny):
    df, meta = tiny
    assert rho(df, df.copy(), meta)["rho"] == pytest.approx(0.0, abs=1e-9)


def test_rho_known_values(tiny):
    df, meta = tiny
    syn = df.copy()
    syn["size"] = "S"                       # TV distance = share of "M" in real
    syn["x1"] = df["x1"] + 1000.0           # disjoint support: KS statistic 1
    share_m = (df["size"] == "M").mean()
    out = rho(df, syn, meta)
    assert out["rho_per_column"]["size"] == pytest.approx(100 * share_m, abs=1e-3)
    assert out["rho_per_column"]["x1"] == pytest.approx(100.0)
    assert out["rho"] == pytest.approx((100 * share_m + 100.0) / 5, abs=1e-3)


def test_dcr_copied_rows_are_at_zero(tiny):
    df, meta = tiny
    train, test = df.iloc[:40], df.iloc[40:]
    out = dcr(train, test, train.copy(), meta)
    assert out["dcr_exact_copy_rate"] == 1.0
    assert out["dcr_median"] == 0.0
    assert out["dcr_share_ideal"] == pytest.approx(40 / 60)


def test_dcr_distance_by_hand(tiny):
    df, meta = tiny
    train = df.iloc[:2].copy()
    train.loc[:, "x1"] = [0.0, 2.0]
    train.loc[:, "x2"] = [0.0, 10.0]
    train.loc[:, ["colour", "size", "y"]] = [["red", "S", "no"], ["blue", "M", "yes"]]
    syn = pd.DataFrame({"x1": [0.5], "x2": [0.0], "colour": ["red"], "size": ["M"], "y": ["no"]})
    # to row 0: |0.5-0|/2 + 0 + one category mismatch (size) costs 2 -> 2.25
    # to row 1: |0.5-2|/2 + 10/10 + colour and y mismatch -> 0.75 + 1 + 4 = 5.75
    out = dcr(train, train, syn, meta)
    assert out["_dcr_syn_to_train"][0] == pytest.approx(2.25, abs=1e-5)


def test_dcr_unknown_category_counts_as_mismatch(tiny):
    df, meta = tiny
    syn = df.iloc[:1].copy()
    syn["colour"] = "purple"
    out = dcr(df, df, syn, meta)
    assert out["dcr_unknown_category_rows"] == 1
    assert out["_dcr_syn_to_train"][0] == pytest.approx(2.0, abs=1e-5)


def test_mle_learns_a_separable_target(tiny):
    df, meta = tiny
    big = pd.concat([df] * 5, ignore_index=True)
    out = mle(big, df, meta, seed=0)
    assert out["mle_metric"] == "auc" and out["mle"] > 0.9


def test_mle_single_class_is_a_failure(tiny):
    df, meta = tiny
    with pytest.raises(MLEFailure):
        mle(df[df["y"] == "yes"], df, meta, seed=0)


def test_mle_regression_reports_log_rmse(tiny):
    df, meta = tiny
    from harness.api import TableMetadata
    reg = df.assign(t=np.exp(df["x2"] / 3) + 1)
    m = TableMetadata(columns=list(reg.columns), numerical=["x1", "x2", "t"], categorical=["colour", "size", "y"],
                      target="t", task_type="regression", categories=meta.categories)
    out = mle(pd.concat([reg] * 5), reg, m, seed=0)
    assert out["mle_metric"] == "rmse_log" and out["mle"] < 0.5


def test_out_of_range_synthetic_numbers_become_missing_and_are_counted(tiny):
    """A generator that writes 1e39 or inf must not crash the scoring (float32 features overflow)."""
    from tasks.base import TabularTask
    from tasks.metrics import mle

    df, meta = tiny
    syn = df.copy()
    syn.loc[0, "x1"], syn.loc[1, "x2"], syn.loc[2, "x2"] = 1e39, float("inf"), -1e300
    clean, info = object.__new__(TabularTask).clean_synthetic(syn, meta)
    assert info["out_of_range_cells"] == {"x1": 1, "x2": 2}
    assert clean["x1"].isna().sum() == 1 and clean["x2"].isna().sum() == 2
    assert 0 <= mle.mle(clean, df, meta, seed=0)["mle"] <= 1
