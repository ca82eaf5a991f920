"""A user's table as it comes: delimiters and encodings, column roles, targets checked before any work,
missing values through every method, a preflight that catches a crash in `sample`, and a failed sample
retried from the kept model (issue 16)."""
import json

import numpy as np
import pandas as pd
import pytest

from harness.api import Method
from harness.cli import main
from harness.api.missing import MissingPolicy
from tasks.csv_read import read_table, sniff_separator
from tasks.tabular import build_metadata



def cli(capsys, *args):
    rc = main(["run", "--task", "csv", *map(str, args)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def table(n=200, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame({"x": x.round(3), "z": rng.uniform(0, 100, n).round(1),
                         "c": rng.choice(["red", "green", "blue"], n), "y": np.where(x > 0, "yes", "no")})


# ------------------------------------------------------------------------------------------ reading
def test_semicolon_decimal_comma_bom_and_quotes(tmp_path):
    p = tmp_path / "t.csv"
    rows = [f'{i};"{i},5";"a;b {i % 3}";{i % 2}' for i in range(40)]
    p.write_bytes("\ufeffid;price;label;y\n".encode() + "\n".join(rows).encode())
    df, read, notes = read_table(p)
    assert read["sep"] == ";" and read["encoding"] == "utf-8-sig" and list(df.columns) == ["id", "price", "label", "y"]
    assert df["price"].tolist()[:2] == [0.5, 1.5] and df["label"][0] == "a;b 0"      # quoted ; stays in the field
    assert any("semicolon" in n for n in notes) and any("decimal commas" in n for n in notes)


def test_latin1_tab_and_missing_markers(tmp_path):
    p = tmp_path / "t.tsv"
    lines = ["ville\tprix\ty"] + [f"{'Orléans' if i % 2 else 'Besançon'}\t{'?' if i % 7 == 0 else i}\t{i % 2}"
                                  for i in range(30)]
    p.write_bytes("\n".join(lines).encode("latin-1"))
    df, read, notes = read_table(p)
    assert read["sep"] == "\t" and read["encoding"] == "cp1252" and df["ville"][0] == "Besançon"
    assert df["prix"].isna().sum() == 5 and pd.api.types.is_numeric_dtype(df["prix"])
    assert any("'?' read as missing" in n for n in notes)
    assert sniff_separator("a,b\n1,2\n") == "," and sniff_separator("just one column\nx\n") == ","


def test_override_sep_and_encoding(tmp_path, capsys):
    p = tmp_path / "t.csv"
    p.write_text("a|b|y\n" + "".join(f"{i}|{i * 2}|{i % 2}\n" for i in range(40)))
    rc, _, err = cli(capsys, "--data", p, "--target", "y", "--sep", ",", "--methods", "real", "--store", tmp_path / "r")
    assert rc == 2 and "target column 'y' not in" in err and "--sep" in err
    rc, _, err = cli(capsys, "--data", p, "--target", "y", "--encoding", "nope", "--methods", "real", "--store", tmp_path / "r")
    assert rc == 2 and "cannot decode" in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------------------------------ targets
@pytest.mark.parametrize("case,needle", [
    ("continuous", "use --task-type regression"),
    ("single", "single class"),
    ("three_as_bin", "binclass needs exactly 2"),
    ("two_as_multi", "use --task-type binclass"),
    ("rare", "fewer than 10 rows"),
    ("single_regression", "single value"),
])
def test_bad_targets_exit_2_with_one_line(tmp_path, capsys, case, needle):
    rng = np.random.default_rng(0)
    df = table(300)
    df["y"] = {"continuous": rng.uniform(1000, 90000, 300).round(2), "single": "yes",
               "three_as_bin": rng.choice(["a", "b", "c"], 300), "two_as_multi": rng.choice(["a", "b"], 300),
               "rare": ["r"] * 3 + list(rng.choice(["a", "b", "c"], 297)), "single_regression": 1.5}[case]
    task_type = {"continuous": "binclass", "three_as_bin": "binclass", "two_as_multi": "multiclass",
                 "single_regression": "regression"}.get(case)
    df.to_csv(tmp_path / "t.csv", index=False)
    store = tmp_path / "runs"
    rc, _, err = cli(capsys, "--data", tmp_path / "t.csv", "--target", "y", "--methods", "real", "--store", store,
                     *(["--task-type", task_type] if task_type else []))
    assert rc == 2 and needle in err and len(err.strip().splitlines()) == 1 and len(err) < 400, err
    assert not store.exists()                       # before any work


# ------------------------------------------------------------------------------------------ column roles
def test_id_dropped_dates_converted_constant_noted(tmp_path, capsys):
    df = table(200)
    df.insert(0, "customer_id", np.arange(1000, 1200))
    df["signup"] = pd.date_range("2021-01-01", periods=200, freq="37h").strftime("%Y-%m-%d %H:%M")
    df["code"] = [f"K{i:05d}" for i in range(200)]          # text, one value per row
    df["country"] = "FR"
    df.to_csv(tmp_path / "t.csv", index=False)
    store = tmp_path / "runs"
    rc, out, err = cli(capsys, "--data", tmp_path / "t.csv", "--target", "y", "--methods", "real", "--store", store,
                       "--quiet")
    assert rc == 0, err
    assert "note: column 'customer_id' dropped" in out and "note: column 'signup': dates" in out
    rec = json.loads(next(store.glob("csv/real/*/record.json")).read_text())
    cols = rec["task"]["columns"]
    assert set(cols["dropped"]) == {"customer_id", "code"} and cols["datetime"] == ["signup"]
    assert cols["constant"] == ["country"] and rec["task"]["notes"]
    syn = pd.read_csv(store / rec["synthetic_path"])
    assert "customer_id" not in syn and pd.api.types.is_float_dtype(syn["signup"]) and syn["signup"].min() > 1.6e9
    # overrides: keep the id as a category, drop the dates
    rc, out, err = cli(capsys, "--data", tmp_path / "t.csv", "--target", "y", "--methods", "real", "--store", store,
                       "--quiet", "--categorical", "code", "--drop", "signup,customer_id")
    assert rc == 0, err
    assert "'code' is categorical with" not in out      # 200 levels: under the warning's threshold
    rc, _, err = cli(capsys, "--data", tmp_path / "t.csv", "--target", "y", "--methods", "real", "--store", store,
                     "--drop", "y")
    assert rc == 2 and "is the target" in err


# ------------------------------------------------------------------------------------------ missing values
def test_missing_policy_round_trip():
    df = table(100)
    df.loc[[1, 5, 9], "x"] = np.nan
    df.loc[[2, 3], "c"] = np.nan
    meta = build_metadata(df, ["c", "y"], "y", "binclass")
    policy = MissingPolicy.fit(df, meta)
    enc = policy.encode(df)
    assert list(enc.columns) == ["x", "x__missing", "z", "c", "y"] and not enc.isna().any().any()
    assert policy.metadata.categories["x__missing"] == ["0", "1"] and "__nan__" in policy.metadata.categories["c"]
    policy.metadata.check(enc)
    back = policy.decode(enc)
    pd.testing.assert_frame_equal(back, df[meta.columns].reset_index(drop=True), check_dtype=False)
    assert MissingPolicy.fit(table(50), meta).active is False


def adult_with_blanks(path, n=200):
    from tasks.data import locate
    from tasks.tabular import ADULT_COLUMNS
    adult = locate("adult")["adult.data"]         # ../shared/data, $HARNESS_DATA_DIR or the UCI download
    df = pd.read_csv(adult, header=None, names=ADULT_COLUMNS, skipinitialspace=True, nrows=n)
    keep = ["age", "workclass", "fnlwgt", "education", "hours.per.week", "sex", "income"]
    df = df[keep].rename(columns={"income": "y"})
    rng = np.random.default_rng(0)
    for c in keep[:-1]:
        df.loc[rng.random(n) < 0.1, c] = np.nan
    df.to_csv(path, index=False)
    return path


def test_every_method_on_a_table_with_missing_values(tmp_path, capsys):
    """Issue 16, acceptance 1 in small: NaN in numeric and categorical columns, every method ok."""
    path = adult_with_blanks(tmp_path / "t.csv")
    store = tmp_path / "runs"
    methods = "real,smote,ctgan,tvae,tabsyn,great,difflm"
    rc, out, err = cli(capsys, "--data", path, "--target", "y", "--methods", methods, "--profile", "smoke",
                       "--store", store, "--quiet", "--n-samples", "40")
    assert rc == 0, err
    recs = {r["method"]["name"]: r for r in map(json.loads, (p.read_text() for p in store.glob("csv/*/*/record.json")))}
    assert set(recs) == set(methods.split(","))
    for name, rec in recs.items():
        assert rec["status"] == "ok" and np.isfinite(rec["metrics"]["mle"]), name
        rates = rec["missing_values"]["rates"]
        assert rates["age"]["train"] > 0 and rates["workclass"]["train"] > 0, name
    assert recs["ctgan"]["missing_values"]["policy"] == "indicator"
    assert recs["real"]["missing_values"]["policy"] == "the method's own"
    assert recs["real"]["missing_values"]["rates"]["age"]["synthetic"] > 0   # nulls come back


# ------------------------------------------------------------------------------------------ preflight, kept model
class Flaky(Method):
    """Fits in no time; `sample` raises while the file `fail` exists (once, or always)."""

    name = "flaky"
    profiles = {"smoke": {"slow": 0.0}, "cpu": {"slow": 0.0}}
    cost = {"smoke": "seconds", "cpu": "seconds"}
    fits: list = []

    def __init__(self, slow: float = 0.0, fail: str = "", once: bool = True, seed: int = 0):
        self.slow, self.fail, self.once, self.seed = slow, fail, once, seed

    def fit(self, train, metadata, *, work_dir=None, cache_dir=None):
        import time
        self._check_input(train, metadata)
        Flaky.fits.append(self.slow)
        time.sleep(self.slow)
        self.train_, self.fitted_ = train.copy(), True
        return self

    def sample(self, n, *, seed=0):
        from pathlib import Path
        if self.fail and Path(self.fail).exists():
            if self.once:
                Path(self.fail).unlink()
            raise RuntimeError("sampling broke")
        return self.train_.sample(n=n, replace=True, random_state=seed).reset_index(drop=True)


@pytest.fixture
def flaky(monkeypatch):
    from methods import METHODS
    monkeypatch.setitem(METHODS._targets, "flaky", Flaky)
    monkeypatch.setattr(Flaky, "fits", [])
    return Flaky


def test_failed_sample_is_retried_from_the_kept_model(tmp_path, capsys, flaky):
    """Acceptance 3: a method whose sample raises once loses no training."""
    table(200).to_csv(tmp_path / "t.csv", index=False)
    (tmp_path / "fail").touch()
    args = ["--data", tmp_path / "t.csv", "--target", "y", "--methods", "flaky", "--store", tmp_path / "runs",
            "--set", f"flaky.fail={json.dumps(str(tmp_path / 'fail'))}", "--set", "flaky.slow=0.5", "--quiet"]
    rc, _, err = cli(capsys, *args)
    assert rc == 1 and "(sample): RuntimeError: sampling broke" in err
    rec_path = next((tmp_path / "runs").glob("csv/flaky/*/record.json"))
    rec = json.loads(rec_path.read_text())
    assert rec["status"] == "error" and rec["phase"] == "sample" and rec["kept_model"]["bytes"] > 0
    assert rec["preflight"]["status"] == "ok"        # the preflight runs the smoke profile, without --set
    rc, out, err = cli(capsys, *args)
    assert rc == 0, err
    rec = json.loads(rec_path.read_text())
    assert rec["status"] == "ok" and rec["fit_reused"]["fit_s"] >= 0.5 and "reusing the model fitted" in out
    assert flaky.fits.count(0.5) == 1                      # one real fit over both runs
    assert not list((tmp_path / "runs").glob("csv/flaky/*/work/fitted-method.pt"))   # removed once ok


def test_preflight_catches_a_sample_crash_before_the_long_fit(tmp_path, capsys, flaky, monkeypatch):
    table(200).to_csv(tmp_path / "t.csv", index=False)
    (tmp_path / "fail").touch()
    args = ["--data", tmp_path / "t.csv", "--target", "y", "--methods", "flaky", "--store", tmp_path / "runs",
            "--set", f"flaky.fail={json.dumps(str(tmp_path / 'fail'))}", "--set", "flaky.once=false",
            "--set", "flaky.slow=600", "--quiet"]
    monkeypatch.setattr(flaky, "preflight", {"fail": str(tmp_path / "fail"), "once": False})
    rc, out, err = cli(capsys, *args)
    assert rc == 1 and "preflight flaky: fit + sample" in out and "failed in sample" in out
    assert flaky.fits == [0.0]                             # the smoke-sized fit only, never the 600 s one
    rec = json.loads(next((tmp_path / "runs").glob("csv/flaky/*/record.json")).read_text())
    assert rec["status"] == "error" and rec["phase"] == "preflight" and "sampling broke" in rec["error"]["message"]
    assert rec["preflight"]["rows"] == 160 and rec["preflight"]["seconds"] < 30
