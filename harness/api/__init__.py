"""The kernel: the contracts a plugin implements and everything a plugin may import from the harness.

`harness.api` (this module) holds the contracts: a Method (fit -> sample), a Task (load -> Splits, score),
and their metadata. Beside it, in this package: `metadata` (TableMetadata, RecordMetadata), `registry`
(name -> plugin, entry points), `io` (atomic writes, resumable checkpoints), `models` (the packaged small
models), `missing` (the missing-value policy) and `tables` (markdown number formatting). Methods and tasks
import nothing else of `harness` (tests/test_layers.py); the app (cli, runner, store, leaderboard, ...) sits
beside this package and reaches plugins through the registries. A method sees only the training split and
its metadata; it never sees validation or test data and never scores itself. Tables are one modality among
several: a table is a DataFrame described by TableMetadata; text, code and JSON records are lists of str
(text, code) or dict (json) described by RecordMetadata.
"""
from __future__ import annotations

import hashlib
import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Union

import pandas as pd

from harness.api.options import RUN_PROFILE, Option, resolve  # noqa: F401 (RUN_PROFILE: for the app)
from harness.api.metadata import (MODALITIES, TASK_TYPES, DataError, RecordMetadata, TableMetadata,  # noqa: F401
                              modality_noun)


class NotFittedError(RuntimeError):
    pass


class TooFewValidError(RuntimeError):
    """`sample` decoded rows but too few were valid (an LLM decoder): a shortfall in quality, not a crash.
    The runner's preflight, whose fit is far too short to write valid rows, counts it as a pass."""


Metadata = Union[TableMetadata, RecordMetadata]
Data = Union[pd.DataFrame, list]       # a table, or a list of records


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


class Method:
    """Base class of every generator: scikit-learn style params, fit(train, metadata) -> self, sample(n, seed).

    Subclasses declare keyword params with defaults in __init__ and store them verbatim. `profiles` maps a
    profile name (smoke / cpu / gpu / paper) to param overrides of __init__'s defaults; `cost` gives a rough cost per profile, shown
    before a run starts. `modalities` says which data the method takes ("table", "text", "code", "json").
    """

    name: ClassVar[str] = ""
    modalities: ClassVar[frozenset] = frozenset({"table"})
    # deterministic: the same rows for every sample seed. missing_values: "native" (fit gets NaN as they are)
    # or "indicator" (the runner encodes them with harness.api.missing's policy first; the default).
    # keep_fitted: the runner keeps the fitted method in the job's work_dir until the job is ok, so a failed
    # `sample` is retried without a refit (False for methods that take seconds or resume a fit by themselves).
    tags: ClassVar[dict] = {"deterministic": False, "missing_values": "indicator", "keep_fitted": True}
    profiles: ClassVar[dict[str, dict]] = {}
    # The profile a plain `Cls()` builds: __init__'s defaults equal `from_profile(default_profile)`
    # (tests/test_conformance.py checks it for every registered method).
    default_profile: ClassVar[str] = "cpu"
    cost: ClassVar[dict[str, str]] = {}
    # Overrides of the `smoke` profile for the runner's preflight: a fit + sample on ~200 training rows before a
    # long fit, so that a crash in `sample` shows in seconds. None: no preflight (the whole job takes seconds).
    preflight: ClassVar[dict | None] = {}
    no_preflight_why: ClassVar[str] = ""      # what `run` prints when preflight is None (default: "takes seconds")
    # What one job needs per profile, for executors that place jobs on a cluster (Ray's num_cpus/num_gpus/memory,
    # Slurm's cpus/gpus/mem): {"cpus": int, "gpus": int, "memory_gb": float}; unset keys take RESOURCES.
    resources: ClassVar[dict[str, dict]] = {}
    RESOURCES: ClassVar[dict] = {"cpus": 1, "gpus": 0, "memory_gb": 4}
    # A method whose libraries cannot live in our environment declares the one it runs in (harness.api.envs);
    # the runner refuses it before any work when that environment is not built.
    environment: ClassVar = None
    # A param added after records were made, whose default changes what the method does: the value the code
    # behaved as before the param existed. A stored record without the param counts as that value, not as
    # today's default, so an old record does not pose as a run of today's spec (see harness/rows.py).
    params_before: ClassVar[dict] = {}

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind in kinds]

    def get_params(self) -> dict:
        return {k: getattr(self, k) for k in self._param_names()}

    @classmethod
    def param_defaults(cls) -> dict:
        """Each param's value when unset (a config dict's fields flattened one level). A record made before a
        param existed ran with this value, unless `params_before` says what it ran with."""
        sig = inspect.signature(cls.__init__).parameters
        return {k: sig[k].default for k in cls._param_names() if sig[k].default is not inspect.Parameter.empty}

    @classmethod
    def profile_params(cls, profile: str) -> dict:
        """The profile's param overrides; a profile the method does not declare is an error naming those it has."""
        if profile not in cls.profiles:
            raise ValueError(f"{cls.name or cls.__name__} has no profile {profile!r}; its profiles: "
                             f"{', '.join(cls.profiles) or 'none'}")
        return dict(cls.profiles[profile])

    @classmethod
    def from_profile(cls, profile: str, **overrides) -> "Method":
        params = cls.profile_params(profile)
        params.update(overrides)
        unknown = set(params) - set(cls._param_names())
        if unknown:
            raise ValueError(f"{cls.name}: unknown params {sorted(unknown)}; params are {cls._param_names()}")
        return cls(**params)

    @classmethod
    def resources_for(cls, profile: str) -> dict:
        return {**cls.RESOURCES, **cls.resources.get(profile, {})}

    @classmethod
    def resolve_profile(cls, profile: str) -> str:
        """Identical profiles are one profile: the name of the first profile (the default one first) that builds
        the same method as `profile`, so that runs of equal models share job ids and leaderboard rows."""
        target = cls.from_profile(profile).get_params()
        for name in dict.fromkeys([cls.default_profile, *cls.profiles]):
            if name in cls.profiles and cls.from_profile(name).get_params() == target:
                return name
        return profile

    @classmethod
    def handles(cls, modality: str) -> bool:
        return modality in cls.modalities

    def fit(self, train: Data, metadata: Metadata, *, work_dir: Path | None = None,
            cache_dir: Path | None = None) -> "Method":
        """Train on `train`. `work_dir` is the same folder for every rerun of the same job (keep resumable
        state there); `cache_dir` is shared by all jobs of a store (state several jobs may reuse). Either
        may be None: keep nothing."""
        raise NotImplementedError

    def sample(self, n: int, *, seed: int = 0) -> Data:
        raise NotImplementedError

    def sample_budget(self, n_default: int) -> int:
        """How many rows to sample when the user did not say (default: as many as the training split).
        LLM decoders on a CPU profile cap this; the record then says n_samples < n_train."""
        return n_default

    def _check_input(self, train: Any, metadata: Metadata) -> None:
        """What every fit starts with: a modality this method handles, and data that fits its metadata."""
        if not self.handles(metadata.modality):
            raise DataError(f"{self.name or type(self).__name__} does not handle {modality_noun(metadata.modality)}")
        metadata.check(train)

    def _check_fitted(self) -> None:
        if not getattr(self, "fitted_", False):
            raise NotFittedError(f"{type(self).__name__}.sample called before fit")

    def extra_record(self) -> dict:
        """Method-specific facts for the run record (losses, valid-row rate, ...)."""
        return {}
