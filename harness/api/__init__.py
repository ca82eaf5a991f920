"""The kernel: the contracts a plugin implements and everything a plugin may import from the harness.

`harness.api` (this module) holds the contracts: a Task (load -> Splits, score) here, a Method (fit ->
sample) in `method`, and their metadata. Beside it, in this package: `metadata` (TableMetadata,
RecordMetadata), `registry` (name -> plugin, entry points), `io` (atomic writes, resumable checkpoints),
`models` (the packaged small models), `missing` (the missing-value policy) and `tables` (markdown number
formatting). Methods and tasks import nothing else of `harness` (tests/test_layers.py); the app (cli,
runner, store, leaderboard, ...) sits beside this package and reaches plugins through the registries. A
method sees only the training split and its metadata; it never sees validation or test data and never
scores itself. Tables are one modality among several: a table is a DataFrame described by TableMetadata;
text, code and JSON records are lists of str (text, code) or dict (json) described by RecordMetadata.
"""
from __future__ import annotations

import hashlib
import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pandas as pd

from harness.api.method import Method, NotFittedError, TooFewValidError  # noqa: F401
from harness.api.options import RUN_PROFILE, Option, resolve  # noqa: F401 (RUN_PROFILE: for the app)
from harness.api.metadata import (MODALITIES, TASK_TYPES, Data, DataError, Metadata, RecordMetadata,  # noqa: F401
                                  TableMetadata, modality_noun)

Method.__module__ = "harness.api"       # its public home, as errors and docs name it (defined in .method)


@dataclass
class Splits:
    """A task's data: train/val/test as DataFrames (tables) or lists of records, plus their metadata.
    `info` holds what a record should say about them (split scheme, sources, dropped rows)."""

    train: Data
    val: Data | None
    test: Data
    metadata: Metadata
    info: dict = field(default_factory=dict)

    def sizes(self) -> dict:
        return {"n_train": len(self.train), "n_val": 0 if self.val is None else len(self.val), "n_test": len(self.test)}

    def fingerprint(self) -> str:
        """A hash of the training data: two records with the same fingerprint trained on the same rows."""
        if isinstance(self.train, pd.DataFrame):
            return format(int(pd.util.hash_pandas_object(self.train, index=False).sum()) & (2**64 - 1), "016x")
        h = hashlib.sha256()
        for r in self.train:
            h.update(json.dumps(r, sort_keys=True, ensure_ascii=False).encode())
            h.update(b"\n")
        return h.hexdigest()[:16]


@dataclass
class Scores:
    """What `Task.score` returns: flat metrics for the record, and files it wrote (name -> path)."""

    metrics: dict
    artifacts: dict[str, Path] = field(default_factory=dict)
    incomplete: str | None = None   # why some scores are missing (e.g. judge requests that still failed after
                                    # their retries): the record says so and the next run scores that job again


def cpu_threads() -> int | None:
    """The threads this job may use when an executor gave it an allotment (HARNESS_THREADS; harness/executors),
    else None: the library's own default. Plugins that pick a thread count (XGBoost's n_jobs) ask here."""
    import os

    value = os.environ.get("HARNESS_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


class Task:
    """A task owns its data, splits, metrics (declared with their direction) and report.

    Subclasses set `name`, `version` (bump on any change to data, split or metric), `modality` and
    `family` (tasks whose leaderboard page is shared; `report` names a "module:function" that renders
    that family's extra sections from records). Keyword options of __init__ become CLI flags
    (e.g. `data` -> --data) and, through `config()`, part of every job's identity.
    """

    name: ClassVar[str] = ""
    version: ClassVar[int] = 1
    modality: ClassVar[str] = "table"
    family: ClassVar[str] = ""
    report: ClassVar[str | None] = None
    # The metrics a summary shows first (the README's results block, the generic tables' first columns).
    headline: ClassVar[tuple[str, ...]] = ()
    # Options that name a leaderboard row when a run's value differs from these (e.g. a non-default split).
    label_defaults: ClassVar[dict] = {}
    # Options that change only how synthetic data are scored (the MLE protocol, a judge, a CPT arm): a job that
    # differs from a finished one only in these scores that job's synthetic data instead of fitting again.
    scoring_options: ClassVar[tuple[str, ...]] = ()
    # A task that reads a user's own file: its records are never copied into the project's archive
    # unless the user asks (`harness leaderboard --archive-user-data`).
    user_data: ClassVar[bool] = False

    # The command-line options it takes (harness.api.options): type, choices and help of __init__'s keywords.
    options: ClassVar[tuple[Option, ...]] = ()

    @classmethod
    def _init_params(cls) -> dict:
        """Keyword parameters of __init__ along the class hierarchy (a subclass may pass **kw to its base)."""
        out = {}
        for klass in cls.__mro__:
            if "__init__" not in vars(klass) or klass is object:
                continue
            for p in inspect.signature(klass.__init__).parameters.values():
                if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in out:
                    out[p.name] = p
        return out

    @classmethod
    def option_names(cls) -> list[str]:
        return list(cls._init_params())

    @classmethod
    def declared_options(cls) -> list[Option]:
        """Every command-line option of this task, in __init__ order, declared or inferred (options.py)."""
        declared = {}
        for klass in reversed(cls.__mro__):          # a subclass's declaration wins over its base's
            declared.update({o.name: o for o in vars(klass).get("options", ())})
        params = cls._init_params()
        defaults = {k: None if p.default is inspect.Parameter.empty else p.default for k, p in params.items()}
        return resolve(declared, defaults, {k: p.annotation for k, p in params.items()})

    def config(self) -> dict:
        return {k: getattr(self, k) for k in self.option_names() if hasattr(self, k)}

    def load(self) -> Splits:
        raise NotImplementedError

    def metrics(self, metadata: Metadata) -> dict[str, bool]:
        """{metric name: higher_is_better}, in the order tables show them."""
        raise NotImplementedError

    def score(self, synthetic: Data, splits: Splits, *, seed: int = 0, work_dir: Path | None = None,
              cache_dir: Path | None = None, quiet: bool = False) -> Scores:
        """Metrics of `synthetic`. `work_dir` is this job's folder (resumable state, artifacts); `cache_dir`
        is shared by every job of a store (e.g. the code task's base-model scores). Either may be None."""
        raise NotImplementedError

    def describe(self, splits: Splits) -> dict:
        """What a record says about the data (sizes, metadata summary, split info)."""
        return {**splits.sizes(), **splits.metadata.describe(), **splits.info}

    def save_synthetic(self, synthetic: Data, directory: Path) -> Path:
        """CSV for tables, JSONL (one JSON value per line) for records."""
        directory.mkdir(parents=True, exist_ok=True)
        if isinstance(synthetic, pd.DataFrame):
            path = directory / "synthetic.csv"
            synthetic.to_csv(path, index=False)
            return path
        path = directory / "synthetic.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            for r in synthetic:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        return path

    def load_synthetic(self, path: Path) -> Data:
        path = Path(path)
        if path.suffix == ".csv":
            return pd.read_csv(path)
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
