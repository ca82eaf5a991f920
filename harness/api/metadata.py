"""Metadata of the data a task serves: TableMetadata (column roles of a table, SDV-style) and RecordMetadata
(text, code or JSON records). Part of the kernel contract; import it from harness.api."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import ClassVar, Union

import pandas as pd

TASK_TYPES = ("binclass", "multiclass", "regression")
MODALITIES = ("table", "text", "code", "json")


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
