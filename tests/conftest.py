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


@pytest.fixture
def text_corpus():
    """60 short English sentences, as text records."""
    from harness.api import RecordMetadata

    rng = np.random.default_rng(0)
    words = {"a": ["red", "green", "blue", "small", "old"], "n": ["cat", "dog", "bird", "fox"],
             "v": ["sat on", "ran past", "looked at"], "o": ["the mat", "a tree", "the door"]}
    texts = [f"the {rng.choice(words['a'])} {rng.choice(words['n'])} {rng.choice(words['v'])} {rng.choice(words['o'])}"
             for _ in range(60)]
    return texts, RecordMetadata(kind="text")


@pytest.fixture
def code_corpus():
    """60 one-line Python functions, as code records."""
    from harness.api import RecordMetadata

    ops = ["+", "-", "*"]
    return [f"def f{i}(x):\n    return x {ops[i % 3]} {i}" for i in range(60)], RecordMetadata(kind="code")


JSON_SCHEMA = {"type": "object",
               "properties": {"colour": {"type": "string", "enum": ["red", "green", "blue"]},
                              "size": {"type": "string", "enum": ["S", "M", "L"]},
                              "count": {"type": "integer", "minimum": 0, "maximum": 20}},
               "required": ["colour", "size", "count"]}


@pytest.fixture
def json_corpus():
    """60 small dicts with a JSON schema (enums and a bounded integer), as json records."""
    from harness.api import RecordMetadata

    rng = np.random.default_rng(0)
    records = [{"colour": str(rng.choice(["red", "green", "blue"])), "size": str(rng.choice(["S", "M", "L"])),
                "count": int(rng.integers(0, 21))} for _ in range(60)]
    return records, RecordMetadata(kind="json", schema=JSON_SCHEMA)


@pytest.fixture(scope="session")
def grid_reference(tmp_path_factory):
    """The smoke grid run one job after another in process (tests/grid_helpers.py): what every executor must equal."""
    from grid_helpers import sequential

    return sequential(tmp_path_factory.mktemp("sequential-store"))
