"""The kernel's contracts: a Method (fit -> sample), a Task (load -> Splits, score), and their metadata.

Methods and tasks import only this module, `harness.registry` and `harness.io`. A method sees only the
training split and its metadata; it never sees validation or test data and never scores itself
(../shared/spec/style_anchors.md, "Method interface"). Tables are one modality among several: a table
is a DataFrame described by TableMetadata; text, code and JSON records are lists of str (text, code) or
dict (json) described by RecordMetadata.
"""
from __future__ import annotations

import hashlib
import inspect
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Union

import pandas as pd

TASK_TYPES = ("binclass", "multiclass", "regression")
MODALITIES = ("table", "text", "code", "json")


class NotFittedError(RuntimeError):
    pass


class DataError(ValueError):
    """Bad user input (missing file, unknown column, ...): the CLI prints it and exits 2."""


def modality_noun(modality: str) -> str:
    """How a message names data of a modality: 'tables', 'text records', ..."""
    return "tables" if modality == "table" else f"{modality} records"


@dataclass
class TableMetadata:
    """Column roles of a table, in column order. Categorical values are strings. A table without a
    prediction target (target=None) is allowed; metrics that need one say so."""

    columns: list[str]
    numerical: list[str]
    categorical: list[str]
    target: str | None = None
    task_type: str | None = None
    categories: dict[str, list[str]] = field(default_factory=dict)  # vocabulary seen in train

    modality: ClassVar[str] = "table"

    def check(self, df: pd.DataFrame | None = None) -> "TableMetadata":
        """Every problem at once, as one DataError (SDV's validate)."""
        problems = []
        typed = set(self.numerical) | set(self.categorical)
        problems += [f"column {c!r} is neither numerical nor categorical" for c in self.columns if c not in typed]
        if set(self.numerical) & set(self.categorical):
            problems.append(f"columns typed twice: {sorted(set(self.numerical) & set(self.categorical))}")
        if self.target is not None:
            if self.task_type not in TASK_TYPES:
                problems.append(f"task_type {self.task_type!r} is not one of {TASK_TYPES}")
            if self.target not in self.columns:
                problems.append(f"target {self.target!r} is not a column")
            elif self.task_type == "regression" and self.target not in self.numerical:
                problems.append(f"regression target {self.target!r} must be numerical")
            elif self.task_type in ("binclass", "multiclass") and self.target not in self.categorical:
                problems.append(f"classification target {self.target!r} must be categorical")
        if df is not None:
            if not isinstance(df, pd.DataFrame):
                problems.append(f"a table must be a DataFrame, got {type(df).__name__}")
            else:
                missing = [c for c in self.columns if c not in df.columns]
                if missing:
                    problems.append(f"columns missing from the data: {missing}")
                if len(df) == 0:
                    problems.append("the table is empty")
        if problems:
            raise DataError("; ".join(problems))
        return self

    def describe(self) -> dict:
        return {"modality": "table", "target": self.target, "task_type": self.task_type,
                "n_numerical": len(self.numerical), "n_categorical": len(self.categorical)}

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)


@dataclass
class RecordMetadata:
    """Records that are not rows of a table: `kind` text or code (each record a str) or json (each a dict,
    optionally described by a JSON schema that constrained decoders may use)."""

    kind: str
    schema: dict | None = None

    @property
    def modality(self) -> str:
        return self.kind

    def check(self, records: list | None = None) -> "RecordMetadata":
        if self.kind not in MODALITIES or self.kind == "table":
            raise DataError(f"record kind {self.kind!r} is not one of text, code, json")
        if records is None:
            return self
        want = dict if self.kind == "json" else str
        if not isinstance(records, (list, tuple)):
            raise DataError(f"{self.kind} records must be a list, got {type(records).__name__}")
        if len(records) == 0:
            raise DataError(f"no {self.kind} records: the corpus is empty")
        bad = next((i for i, r in enumerate(records) if not isinstance(r, want)), None)
        if bad is not None:
            raise DataError(f"{self.kind} record {bad} is a {type(records[bad]).__name__}, expected {want.__name__}")
        return self

    def describe(self) -> dict:
        return {"modality": self.kind, "has_schema": self.schema is not None}


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
    # A task that reads a user's own file: its records are never copied into the project's archive
    # unless the user asks (`harness leaderboard --archive-user-data`).
    user_data: ClassVar[bool] = False

    @classmethod
    def option_names(cls) -> list[str]:
        """Keyword options of __init__ along the class hierarchy (a subclass may pass **kw to its base)."""
        names = []
        for klass in cls.__mro__:
            if "__init__" not in vars(klass) or klass is object:
                continue
            for p in inspect.signature(klass.__init__).parameters.values():
                if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in names:
                    names.append(p.name)
        return names

    def config(self) -> dict:
        return {k: getattr(self, k) for k in self.option_names() if hasattr(self, k)}

    def load(self) -> Splits:
        raise NotImplementedError

    def metrics(self, metadata: Metadata) -> dict[str, bool]:
        """{metric name: higher_is_better}, in the order tables show them."""
        raise NotImplementedError

    def score(self, synthetic: Data, splits: Splits, *, seed: int = 0, work_dir: Path | None = None,
              quiet: bool = False) -> Scores:
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
    profile name (smoke / cpu / paper) to param overrides; `cost` gives a rough cost per profile, shown
    before a run starts. `modalities` says which data the method takes ("table", "text", "code", "json").
    """

    name: ClassVar[str] = ""
    modalities: ClassVar[frozenset] = frozenset({"table"})
    tags: ClassVar[dict] = {"deterministic": False}
    profiles: ClassVar[dict[str, dict]] = {}
    cost: ClassVar[dict[str, str]] = {}

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind in kinds]

    def get_params(self) -> dict:
        return {k: getattr(self, k) for k in self._param_names()}

    @classmethod
    def from_profile(cls, profile: str, **overrides) -> "Method":
        params = dict(cls.profiles.get(profile, {}))
        params.update(overrides)
        unknown = set(params) - set(cls._param_names())
        if unknown:
            raise ValueError(f"{cls.name}: unknown params {sorted(unknown)}; params are {cls._param_names()}")
        return cls(**params)

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
