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
            "threads": torch.get_num_threads(), **hardware()}


def hardware() -> dict:
    """The processor, the SIMD level torch uses and the GPU if any: what a wall time in a record depends on (one
    adult DiffLM VAE step took 4.8 s on one of this project's 2-core machines and 12-13 s on another)."""
    import torch

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    out = {"cpu": cpu, "cpu_capability": getattr(torch.backends.cpu, "get_cpu_capability", lambda: "")()}
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(0)
    return out


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
