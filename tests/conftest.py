import numpy as np
import pandas as pd
import pytest

from harness.api import TableMetadata


@pytest.fixture
def tiny():
    """~60 rows: 2 numeric, 2 categorical, 1 binary target that depends on x1."""
    rng = np.random.default_rng(0)
    n = 60
    x1 = rng.normal(size=n)
    df = pd.DataFrame({
        "x1": x1, "x2": rng.uniform(0, 10, n).round(2),
        "colour": rng.choice(["red", "green", "blue"], n), "size": rng.choice(["S", "M"], n),
        "y": np.where(x1 + 0.3 * rng.normal(size=n) > 0, "yes", "no")})
    meta = TableMetadata(columns=list(df.columns), numerical=["x1", "x2"], categorical=["colour", "size", "y"],
                         target="y", task_type="binclass",
                         categories={c: sorted(df[c].unique()) for c in ["colour", "size", "y"]})
    return df, meta
