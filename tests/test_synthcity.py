"""A real synthcity job end to end through the harness, in synthcity's own environment.

Needs `python -m harness env synthcity` (CI builds it: .ci/run). Where it is not built the test skips, unless
DIFFLM_REQUIRE_ENVS names synthcity (CI sets it), so CI cannot pass by skipping.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from methods.synthcity import SYNTHCITY_ENV

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = "synthcity" in os.environ.get("DIFFLM_REQUIRE_ENVS", "").split(",")

pytestmark = pytest.mark.skipif(not SYNTHCITY_ENV.ready() and not REQUIRED,
                                reason="synthcity environment not built (python -m harness env synthcity)")


def test_synthcity_smoke_jobs_end_to_end(tmp_path):
    assert SYNTHCITY_ENV.ready(), "DIFFLM_REQUIRE_ENVS=synthcity but the environment is not built"
    store = tmp_path / "runs"
    r = subprocess.run([sys.executable, "-m", "harness", "run", "--task", "adult", "--methods", "bayesnet,tabddpm",
                        "--profile", "smoke", "--seeds", "0", "--n-samples", "400", "--store", str(store), "--quiet"],
                       cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    records = {json.loads(p.read_text())["method"]["name"]: json.loads(p.read_text())
               for p in store.glob("adult/*/*/record.json")}
    assert set(records) == {"bayesnet", "tabddpm"}
    for name, rec in records.items():
        assert rec["status"] == "ok", rec.get("error")
        env = rec["method"]["extra"]["environment"]
        assert env["lock_hash"] == SYNTHCITY_ENV.lock_hash() and env["synthcity"] == "0.2.12"
        assert env["torch"].startswith("2.2") and "synthcity" in env["interpreter"]
        assert rec["method"]["extra"]["plugin"]["fit_s"] >= 0
        synth = pd.read_csv(store / rec["synthetic_path"])
        assert len(synth) == 400 and "income" in synth.columns and not synth.duplicated().all()
        assert 0 < rec["metrics"]["mle"] <= 1 and rec["metrics"]["rho"] >= 0
    assert records["bayesnet"]["metrics"]["rho"] < 60       # a Bayesian network gets adult's marginals roughly right
    # declared categories stay categories: with synthcity's own guess (<= 10 codes) native.country's 42 label
    # codes were noised and rounded, and 'Trinadad&Tobago' outnumbered 'United-States' (90 % of adult)
    bn = pd.read_csv(store / records["bayesnet"]["synthetic_path"])
    assert bn["native.country"].value_counts(normalize=True).get("United-States", 0) > 0.7
    # numbers go through quantile bins and come back as training values from their bin: whole ages stay whole
    assert records["bayesnet"]["method"]["params"]["numeric_bins"] == 8 and (bn["age"] % 1 == 0).all()
