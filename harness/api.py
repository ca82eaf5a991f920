"""The two contracts the runner relies on: a Method (fit -> sample) and table metadata.

A method sees only the training frame and its metadata; it never sees validation or
test data and never scores itself (see ../shared/spec/style_anchors.md, "Method interface").
"""
from __future__ import annotations

import inspect
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

import pandas as pd

TASK_TYPES = ("binclass", "multiclass", "regression")


class NotFittedError(RuntimeError):
    pass


class DataError(ValueError):
    """Bad user input (missing file, unknown column, ...): the CLI prints it and exits 2."""


@dataclass
class TableMetadata:
    """Column roles of a table, in column order. Categorical values are strings."""

    columns: list[str]
    numerical: list[str]
    categorical: list[str]
    target: str
    task_type: str
    categories: dict[str, list[str]] = field(default_factory=dict)  # vocabulary seen in train

    def check(self, df: pd.DataFrame | None = None) -> "TableMetadata":
        problems = []
        if self.task_type not in TASK_TYPES:
            problems.append(f"task_type {self.task_type!r} is not one of {TASK_TYPES}")
        if self.target not in self.columns:
            problems.append(f"target {self.target!r} is not a column")
        typed = set(self.numerical) | set(self.categorical)
        for c in self.columns:
            if c not in typed:
                problems.append(f"column {c!r} is neither numerical nor categorical")
        if set(self.numerical) & set(self.categorical):
            problems.append(f"columns typed twice: {sorted(set(self.numerical) & set(self.categorical))}")
        if self.task_type == "regression" and self.target not in self.numerical:
            problems.append(f"regression target {self.target!r} must be numerical")
        if self.task_type != "regression" and self.target not in self.categorical:
            problems.append(f"classification target {self.target!r} must be categorical")
        if df is not None:
            missing = [c for c in self.columns if c not in df.columns]
            if missing:
                problems.append(f"columns missing from the data: {missing}")
            if len(df) == 0:
                problems.append("the table is empty")
        if problems:
            raise DataError("; ".join(problems))
        return self

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_dict(cls, d: dict) -> "TableMetadata":
        return cls(**d)


class Method:
    """Base class of every generator: scikit-learn style params, fit(train, meta) -> self, sample(n, seed).

    Subclasses declare keyword params with defaults in __init__ and store them verbatim.
    `profiles` maps a profile name (smoke / cpu / paper) to param overrides.
    """

    name: ClassVar[str] = ""
    modalities: ClassVar[frozenset] = frozenset({"table"})
    tags: ClassVar[dict] = {"deterministic": False}
    profiles: ClassVar[dict[str, dict]] = {}
    # Set by the runner before fit: a folder that is the same for every rerun of the same job (and
    # `cache_dir`, one shared by all jobs of a store). A method may keep checkpoints there so that a
    # killed run resumes; None means "keep nothing" (direct library use).
    work_dir: Path | None = None
    cache_dir: Path | None = None

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

    def fit(self, train: pd.DataFrame, metadata: TableMetadata) -> "Method":
        raise NotImplementedError

    def sample(self, n: int, *, seed: int = 0) -> pd.DataFrame:
        raise NotImplementedError

    def sample_budget(self, n_default: int) -> int:
        """How many rows to sample when the user did not say (default: as many as the training split).
        LLM decoders on a CPU profile cap this; the record then says n_samples < n_train."""
        return n_default

    def _check_fitted(self) -> None:
        if not getattr(self, "fitted_", False):
            raise NotFittedError(f"{type(self).__name__}.sample called before fit")

    def extra_record(self) -> dict:
        """Method-specific facts for the run record (losses, valid-row rate, ...)."""
        return {}


def check_train_frame(train: pd.DataFrame, metadata: TableMetadata) -> None:
    metadata.check(train)

