"""Task options: what a task takes on the command line, declared on the task class (lm-evaluation-harness keeps
a task's settings with the task, not in the CLI). The CLI builds `run`'s flags from the chosen task's options,
so a task registered by another package through the `difflm_bench.tasks` entry point gets its own flags.

A task lists `Option`s for what a user should see (type, choices, help); each is a keyword of its __init__,
whose default is the option's default. Keywords of __init__ it does not list still become options, typed by
their default. The keyword `profile` is not an option: it receives the run's --profile.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

RUN_PROFILE = "profile"
TYPES = ("str", "int", "float", "bool", "names")      # names: a comma-separated list of strings


@dataclass(frozen=True)
class Option:
    name: str
    type: str = "str"
    help: str = ""
    choices: tuple = ()
    default: Any = None        # filled in from the task's __init__ by `resolve`

    def __post_init__(self):
        if self.type not in TYPES:
            raise ValueError(f"option {self.name!r}: type {self.type!r} is not one of {', '.join(TYPES)}")

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def parse(self, text: str):
        """A command-line string as this option's value."""
        if self.type == "names":
            return [x.strip() for x in text.split(",") if x.strip()]
        return {"int": int, "float": float}.get(self.type, str)(text)


def infer(name: str, default, annotation: str = "") -> Option:
    """An undeclared keyword of a task's __init__, typed by its annotation (`int | None`) or its default."""
    head = str(annotation).split("|")[0].split("[")[0].strip()
    by_annotation = {"bool": "bool", "int": "int", "float": "float", "list": "names", "tuple": "names"}
    kind = by_annotation.get(head) or (
        "bool" if isinstance(default, bool) else "int" if isinstance(default, int) else
        "float" if isinstance(default, float) else "names" if isinstance(default, (list, tuple)) else "str")
    return Option(name, kind, default=default)


def resolve(declared: dict[str, Option], defaults: dict[str, Any], annotations: dict[str, str] | None = None) -> list[Option]:
    """The options of a task whose __init__ keywords have `defaults` (in order), with `declared` ones applied."""
    out = []
    for name, default in defaults.items():
        if name == RUN_PROFILE:
            continue
        opt = declared.get(name)
        out.append(replace(opt, default=default) if opt is not None
                   else infer(name, default, (annotations or {}).get(name, "")))
    unknown = set(declared) - set(defaults)
    if unknown:
        raise ValueError(f"declared options {sorted(unknown)} are not keywords of the task's __init__")
    return out
