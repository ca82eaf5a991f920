"""synthcity's baselines (van Breugel et al. 2023), run in synthcity's own environment: `tabddpm`, `arf`,
`bayesnet`, `nflow`.

synthcity 0.2.12 pins torch < 2.3, numpy < 2 and xgboost < 3 and pulls fastai, tsai, monai and opacus, so it
cannot live beside our torch 2.13 / numpy 2 / transformers 5. Each method here declares the `synthcity`
environment (`synthcity.lock` beside this file, built by `python -m harness env synthcity`) and runs
`remote.py` with that environment's interpreter: the training table goes in as a CSV with the job's plugin
params, the fitted plugin stays in the job's folder, and sampled rows come back as a CSV with timings and versions.
The plugins are synthcity's own (wrapped, not rewritten); missing values reach them through the harness's
indicator policy, as for every table method.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import ClassVar

import pandas as pd

from harness.api import Method, TableMetadata
from harness.api.envs import Environment, run_script
from harness.api.io import write_json_atomic

HERE = Path(__file__).parent
SYNTHCITY_ENV = Environment(
    name="synthcity", lock=HERE / "synthcity.lock", python="3.11",
    check="import synthcity.plugins; from synthcity.plugins import Plugins; Plugins().get('arf')",
    versions=("synthcity", "torch", "numpy"),
    size_note="about 3.4 GB of downloads and 7 GB on disk: torch 2.2 with its CUDA libraries, once per lock")


class SynthcityMethod(Method):
    """A synthcity plugin behind the harness's fit -> sample contract; subclasses name the plugin and map their
    params onto its constructor in `plugin_params`."""

    plugin: ClassVar[str] = ""
    environment = SYNTHCITY_ENV
    modalities = frozenset({"table"})
    resources = {"cpu": {"cpus": 2, "memory_gb": 6}, "paper": {"cpus": 4, "gpus": 1, "memory_gb": 16}}
    # no preflight: the fitted plugin stays in the job's folder (keep_fitted), so a failed `sample` is retried
    # without a refit, and each start of synthcity's interpreter costs seconds
    preflight = None
    no_preflight_why = "a failed sample is retried from the fitted plugin kept in the job's folder, without a refit"

    def plugin_params(self) -> dict:
        raise NotImplementedError

    def job_options(self) -> dict:
        """What remote.py does around the plugin (e.g. {"numeric_bins": 20}); none by default."""
        return {}

    def fit(self, train: pd.DataFrame, metadata: TableMetadata, *, work_dir: Path | None = None,
            cache_dir: Path | None = None):
        self._check_input(train, metadata)
        info = self.environment.require(self.name)
        folder = Path(work_dir) / "synthcity" if work_dir else Path(tempfile.mkdtemp(prefix=f"{self.name}-"))
        folder.mkdir(parents=True, exist_ok=True)
        self.meta_, self.folder_, self.dtypes_ = metadata, folder, train[metadata.columns].dtypes.to_dict()
        train[metadata.columns].to_csv(folder / "train.csv", index=False)
        write_json_atomic(folder / "job.json", {
            "plugin": self.plugin, "params": self.plugin_params(), "seed": self.seed, "columns": metadata.columns,
            "categorical": metadata.categorical, "target": metadata.target, "task_type": metadata.task_type,
            **self.job_options()})
        run_script(self.environment, HERE / "remote.py", ["fit", folder], log=folder / "remote.log")
        self.fit_info_ = json.loads((folder / "fit.json").read_text())
        self.env_info_ = {"name": self.environment.name, "lock_hash": info["lock_hash"],
                          "interpreter": self.fit_info_.get("interpreter"), **self.fit_info_.get("versions", {})}
        self.fitted_ = True
        return self

    def sample(self, n: int, *, seed: int = 0) -> pd.DataFrame:
        self._check_fitted()
        run_script(self.environment, HERE / "remote.py", ["sample", self.folder_, n, seed],
                   log=self.folder_ / "remote.log")
        self.sample_info_ = json.loads((self.folder_ / f"sample-{seed}-{n}.json").read_text())
        out = pd.read_csv(self.folder_ / f"sample-{seed}-{n}.csv", keep_default_na=False, na_values=[""],
                          dtype={c: str for c in self.meta_.categorical})
        return self._restore_types(out[self.meta_.columns])

    def _restore_types(self, df: pd.DataFrame) -> pd.DataFrame:
        """Categorical columns as strings (the metadata's contract), numerical ones as numbers."""
        df = df.copy()
        for c in self.meta_.numerical:
            df[c] = pd.to_numeric(df[c], errors="coerce")
            if pd.api.types.is_integer_dtype(self.dtypes_.get(c)) and df[c].notna().all():
                df[c] = df[c].round().astype(self.dtypes_[c])
        for c in self.meta_.categorical:
            df[c] = df[c].astype(str)
        return df.reset_index(drop=True)

    def extra_record(self) -> dict:
        out = {}
        if hasattr(self, "env_info_"):
            out["environment"] = self.env_info_
            out["plugin"] = {"name": self.plugin, "params": self.plugin_params(),
                             "fit_s": self.fit_info_.get("fit_s")}
        if hasattr(self, "sample_info_"):
            out["plugin"]["generate_s"] = self.sample_info_.get("generate_s")
        return out
