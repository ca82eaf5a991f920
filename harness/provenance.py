"""What every run record says about where it ran: package versions, git commit, machine, time, memory."""
from __future__ import annotations

import platform
import resource
import subprocess
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata

import harness
from harness.store import REPO

PACKAGES = ("torch", "numpy", "pandas", "scikit-learn", "xgboost", "xgboost-cpu", "sdmetrics", "ctgan", "sdv",
            "imbalanced-learn", "transformers", "be-great", "xgrammar")


def environment() -> dict:
    import torch

    versions = {}
    for p in PACKAGES:
        try:
            versions[p] = importlib_metadata.version(p)
        except importlib_metadata.PackageNotFoundError:
            pass

    def git(*args):
        try:
            r = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10)
            return r.stdout.strip() if r.returncode == 0 else ""
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"harness": harness.__version__, "git_commit": git("rev-parse", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
            "python": platform.python_version(), "platform": platform.platform(), "node": platform.node(),
            "packages": versions, "device": "cuda" if torch.cuda.is_available() else "cpu",
            "threads": torch.get_num_threads()}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
