"""Runs inside the synthcity environment (its own interpreter; nothing of this project is importable there).

    python remote.py fit DIR        DIR/job.json + DIR/train.csv  ->  DIR/model.bin, DIR/fit.json
    python remote.py sample DIR N SEED                              ->  DIR/sample-SEED-N.csv, DIR/sample-SEED-N.json

job.json: {"plugin", "params", "seed", "columns", "categorical", "target", "task_type", "numeric_bins"}. Each
result JSON holds the seconds taken, the versions found and, on failure, the error (the exit status is then 1).
"""
import json
import os
import sys
import time
import traceback
from importlib import metadata
from pathlib import Path

VERSIONS = ("synthcity", "torch", "numpy", "pandas", "scikit-learn", "opacus")


def versions() -> dict:
    out = {}
    for name in VERSIONS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    out["python"] = sys.version.split()[0]
    return out


def read_table(path: Path, job: dict):
    import pandas as pd

    dtypes = {c: str for c in job["categorical"]}
    return pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=[""])[job["columns"]]


def set_threads() -> None:
    threads = os.environ.get("HARNESS_THREADS", "")
    if threads.isdigit() and int(threads) > 0:
        import torch

        torch.set_num_threads(int(threads))


def use_declared_categories(categorical: list) -> None:
    """Make synthcity's models treat the table's declared categorical columns as categories.

    synthcity label-encodes string columns and then each model guesses which columns are discrete by counting
    values (<= 10): adult's education (16 codes), occupation (15) and native.country (42) become numbers, so a
    Bayesian network adds Gaussian noise to the codes and rounds to a neighbouring category, ARF splits them as
    intervals and TabDDPM diffuses them as Gaussians. The guess stays for undeclared columns; declared ones are
    always discrete. Patched here, in the worker's own interpreter, because synthcity exposes no parameter for it."""
    import sys

    import synthcity.plugins.core.models.tabular_ddpm  # noqa: F401  (imported so the loop below finds them)
    import synthcity.plugins.core.models.tabular_encoder  # noqa: F401
    from synthcity.plugins.core.models.tabular_arf import TabularARF
    from synthcity.utils import dataframe as frame

    declared, guess = set(categorical), frame.discrete_columns

    def discrete_columns(df, max_classes: int = 10, return_counts: bool = False) -> list:
        found = {c if not return_counts else c[0] for c in guess(df, max_classes, return_counts)}
        keep = [c for c in df.columns if c in found or c in declared]
        return [(c, df[c].nunique()) for c in keep] if return_counts else keep

    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("synthcity"):
            for attr in ("discrete_columns", "find_cat_cols"):
                if getattr(module, attr, None) is guess:
                    setattr(module, attr, discrete_columns)
    TabularARF.get_categorical_cols = lambda self, X, var_threshold: discrete_columns(X, var_threshold)


def bin_numbers(train, job: dict, folder: Path):
    """Quantile bins for numeric columns with more distinct values than `numeric_bins` (None: none binned).

    A Bayesian network in synthcity keeps every distinct value as a state, so a network edge between two numeric
    columns with ~20k values each (default's bill amounts) needs a 20k x 20k table: 15 GB and growing before we
    stopped it. Binning is what Bayesian-network synthesisers do (PrivBayes); a bin comes back as one of the
    training values that fell in it, drawn at random, so each column's values stay real ones."""
    import numpy as np

    bins, binned = job.get("numeric_bins"), {}
    if not bins:
        return train, job["categorical"]
    train = train.copy()
    for c in [c for c in job["columns"] if c not in job["categorical"]]:
        x = train[c]
        if x.nunique() <= bins:
            continue
        v, q = x.dropna(), np.linspace(0, 1, bins + 1)
        edges = np.unique(np.quantile(v, q))[1:-1]
        if len(edges) < bins // 2:       # a point mass (adult's capital.gain: 92 % zeros) swallows the quantiles
            edges = np.unique(np.concatenate([edges, np.quantile(v[v != v.mode()[0]], q)[:-1]]))
        code = np.searchsorted(edges, x, side="right")
        binned[c] = [sorted(x[(code == b) & x.notna()].astype(float).tolist()) for b in range(len(edges) + 1)]
        train[c] = [f"bin{b}" if known else None for b, known in zip(code, x.notna())]
    (folder / "bins.json").write_text(json.dumps(binned))
    return train, job["categorical"] + list(binned)


def unbin_numbers(out, folder: Path, seed: int):
    """Each bin label back to a training value from that bin (seeded)."""
    import numpy as np

    path = folder / "bins.json"
    if not path.exists():
        return out
    rng = np.random.default_rng(seed)
    for c, values in json.loads(path.read_text()).items():
        pools = [np.asarray(v) for v in values]           # once per bin, not once per drawn row

        def draw(label):
            pool = pools[int(label[3:])] if isinstance(label, str) and label.startswith("bin") else ()
            return rng.choice(pool) if len(pool) else None

        out[c] = [draw(v) for v in out[c]]
    return out


def fit(folder: Path) -> dict:
    import numpy as np
    import torch
    from synthcity.plugins import Plugins
    from synthcity.plugins.core.dataloader import GenericDataLoader
    from synthcity.utils.serialization import save_to_file

    job = json.loads((folder / "job.json").read_text())
    set_threads()
    train, categorical = bin_numbers(read_table(folder / "train.csv", job), job, folder)
    np.random.seed(job["seed"])
    torch.manual_seed(job["seed"])
    loader = GenericDataLoader(train, target_column=job.get("target"))
    plugin = Plugins().get(job["plugin"], random_state=job["seed"], workspace=folder / "workspace", **job["params"])
    use_declared_categories(categorical)      # after Plugins() has imported every model module
    t0 = time.perf_counter()
    plugin.fit(loader)
    fit_s = time.perf_counter() - t0
    save_to_file(str(folder / "model.bin"), plugin)
    return {"fit_s": round(fit_s, 3), "rows": len(train)}


def sample(folder: Path, n: int, seed: int) -> dict:
    import numpy as np
    import torch
    from synthcity.utils.serialization import load_from_file

    job = json.loads((folder / "job.json").read_text())
    set_threads()
    plugin = load_from_file(str(folder / "model.bin"))
    np.random.seed(seed)
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    out = plugin.generate(count=n, random_state=seed).dataframe()
    gen_s = time.perf_counter() - t0
    out = unbin_numbers(out[job["columns"]], folder, seed)
    out.to_csv(folder / f"sample-{seed}-{n}.csv", index=False)
    return {"generate_s": round(gen_s, 3), "rows": len(out)}


def main(argv: list) -> int:
    command, folder = argv[0], Path(argv[1])
    result_path = folder / ("fit.json" if command == "fit" else f"sample-{argv[3]}-{argv[2]}.json")
    result = {"command": command, "versions": versions(), "interpreter": sys.executable}
    try:
        result.update(fit(folder) if command == "fit" else sample(folder, int(argv[2]), int(argv[3])))
        status = 0
    except Exception as e:                     # the harness reads the error from the result and the log
        result["error"] = f"{type(e).__name__}: {e}"
        traceback.print_exc()
        status = 1
    tmp = result_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, result_path)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
