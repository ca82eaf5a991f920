"""Environments for methods that cannot live in ours, and running a method's script inside one.

Some baselines pin what our environment has moved past (synthcity 0.2.12: torch < 2.3, numpy < 2, fastai, ...).
Such a method declares an `Environment`: a lock file committed beside it (one `name==version` per line, resolved
once, installed with `--no-deps`, so nothing backtracks and nothing of its pins reaches our environment). The
app builds it on request (`python -m harness env NAME`, harness/envs.py) into a cache outside the checkout, one
folder per lock hash; the method then runs a script of its own with that environment's interpreter and exchanges
files with it (harness.api.envs.run_script). A missing environment is refused before any work.
"""
from __future__ import annotations

import ctypes
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from harness.api.metadata import DataError

READY = "ready.json"        # written last by the builder: the lock hash it installed and the versions it found


class EnvironmentMissing(DataError):
    """A method's environment is not built (or was built from another lock): the CLI's one-line refusal, exit 2."""


class ExternalScriptError(RuntimeError):
    """The method's script failed inside its environment; the message ends with the tail of its output."""


def envs_dir() -> Path:
    """Where environments live: $DIFFLM_ENVS_DIR, else ~/.cache/difflm-bench/envs (outside any checkout, so
    every clone and every worker on a shared home reuses one build per lock)."""
    if os.environ.get("DIFFLM_ENVS_DIR"):
        return Path(os.environ["DIFFLM_ENVS_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "difflm-bench" / "envs"


@dataclass(frozen=True)
class Environment:
    name: str
    lock: Path                     # pinned requirements, installed with --no-deps
    python: str = "3.11"           # the major.minor the lock was resolved for
    check: str = ""                # code that must run in the built environment (its imports)
    versions: tuple = ()           # distributions whose versions every record names
    size_note: str = ""            # what building it costs, said in the refusal and by `harness env`
    pip_args: tuple = field(default=())

    def lock_hash(self) -> str:
        return hashlib.sha256(Path(self.lock).read_bytes()).hexdigest()[:12]

    def root(self) -> Path:
        return envs_dir() / f"{self.name}-{self.lock_hash()}"

    def interpreter(self) -> Path:
        return self.root() / "bin" / "python"

    def info(self) -> dict | None:
        """What the builder wrote when it finished (None: not built from this lock)."""
        path = self.root() / READY
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return info if info.get("lock_hash") == self.lock_hash() and self.interpreter().exists() else None

    def ready(self) -> bool:
        return self.info() is not None

    def require(self, method: str = "") -> dict:
        info = self.info()
        if info is None:
            who = f"{method} needs" if method else "needs"
            raise EnvironmentMissing(f"{who} the {self.name} environment, not built here ({self.root()}): create it "
                                     f"with `python -m harness env {self.name}`"
                                     + (f" ({self.size_note})" if self.size_note else ""))
        return info


def _die_with_parent():
    """In the script's process: SIGTERM when the process that started it dies (Linux), so a worker killed by its
    executor's time limit takes the method's script with it."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run_script(env: Environment, script: Path, args: list[str], *, log: Path | None = None,
               quiet: bool = False) -> None:
    """Run `script` with the environment's interpreter. Its output goes to the console (unless quiet) and to
    `log`; a non-zero exit raises ExternalScriptError with the last lines. A time limit is the executor's
    (--job-timeout kills the worker, and this child with it). Thread caps (HARNESS_THREADS, OMP...)
    pass through the inherited environment; our PYTHONPATH does not (its packages would shadow the env's)."""
    env.require()
    child_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    child_env["PYTHONUNBUFFERED"] = "1"
    tail: deque = deque(maxlen=30)
    out = open(log, "a", encoding="utf-8") if log else None
    try:
        proc = subprocess.Popen([str(env.interpreter()), str(script), *map(str, args)], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=child_env, preexec_fn=_die_with_parent)
        # newline="": a progress bar's "\r" updates stay updates on the console instead of a line each
        lines = io.TextIOWrapper(proc.stdout, encoding="utf-8", errors="replace", newline="")
        try:
            for line in lines:
                if line.strip():
                    tail.append(line.strip())
                if out:
                    out.write(line)
                if not quiet:
                    sys.stderr.write(line)
                    sys.stderr.flush()
            rc = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    finally:
        if out:
            out.close()
    if rc != 0:
        last = "\n".join(list(tail)[-12:])
        raise ExternalScriptError(f"{Path(script).name} {args[0] if args else ''} failed in the {env.name} "
                                  f"environment (exit {rc}):\n{last}")
