"""Run one worker (`python -m harness worker SPEC`) as a child process: its own process group, killed with its
parent, a time limit, a thread allotment, its output in the job's log. Shared by every executor (a Ray task and
a Slurm job call it on their node), so a job behaves the same wherever it runs.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.api.io import read_json
from harness.record import JobSpec

GRACE_S = 10.0            # after SIGTERM, the worker writes its record; then SIGKILL
LIVE: set = set()         # workers started by this process and not yet ended (stop_all on Ctrl-C)
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "HARNESS_THREADS")


def _die_with_parent():
    """In the child, before exec: SIGTERM when the process that started it dies (Linux), and a new session so
    that a kill reaches the worker's whole process group."""
    os.setsid()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass                                                                 # not Linux: the group kill still works


def worker_env(threads: int | None, executor: str) -> dict:
    env = dict(os.environ, HARNESS_EXECUTOR=executor, TQDM_DISABLE="1", PYTHONUNBUFFERED="1")
    if threads:
        env.update({k: str(threads) for k in THREAD_VARS})
    return env


def run_worker(spec_path: str | Path, *, executor: str = "local", timeout_s: float | None = None,
               threads: int | None = None, python: str | None = None) -> dict:
    """Run the job; returns {"rc", "seconds", "status", "log"}. A job past `timeout_s` or killed ends `error`
    with its phase (the worker writes it on SIGTERM; `mark_ended` if it could not)."""
    spec_path = Path(spec_path)
    log = spec_path.parent / "worker.log"
    t0 = time.monotonic()
    with open(log, "a") as out:
        out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {executor} worker on {os.uname().nodename}\n")
        out.flush()
        proc = subprocess.Popen([python or sys.executable, "-m", "harness", "worker", str(spec_path),
                                 "--executor", executor], stdout=out, stderr=subprocess.STDOUT,
                                env=worker_env(threads, executor), preexec_fn=_die_with_parent)
        reason = None
        LIVE.add(proc)
        try:
            rc = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            reason = f"exceeded the job timeout of {timeout_s:.0f} s"
            rc = stop(proc)
        except BaseException:            # the executor itself is stopping (Ctrl-C, a Ray cancel): take the job down
            stop(proc)
            raise
        finally:
            LIVE.discard(proc)
    if rc < 0 and reason is None:
        reason = f"killed by signal {-rc}"
    status = mark_ended(spec_path, reason) if reason else record_status(spec_path)
    return {"rc": rc, "seconds": round(time.monotonic() - t0, 1), "status": status, "log": str(log),
            **({"reason": reason} if reason else {})}


def stop(proc: subprocess.Popen) -> int:
    """SIGTERM to the worker's group, SIGKILL after GRACE_S; returns its exit code."""
    for sig, wait in ((signal.SIGTERM, GRACE_S), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            return proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    return proc.wait()


def stop_all() -> None:
    """Stop every worker this process started (the submitter was interrupted): each records where it stopped."""
    for proc in list(LIVE):
        stop(proc)


def _record_path(spec_path: Path) -> Path:
    return Path(spec_path).parent / "record.json"


def record_status(spec_path: Path) -> str:
    """The status the job's record ends with ("missing" when the worker never wrote one)."""
    path = _record_path(spec_path)
    return read_json(path).get("status", "missing") if path.exists() else "missing"


def mark_ended(spec_path: Path, reason: str) -> str:
    """A worker stopped from outside: its record says `error` with the phase it was in, whatever it managed to
    write itself (a SIGKILL writes nothing), so that `status` and a rerun see an ended job."""
    from harness.store import load_record, store_for_record

    path = _record_path(spec_path)
    if not path.exists():
        return "missing"
    rec = load_record(path)
    if rec["status"] == "ok":
        return "ok"
    if rec["status"] == "running" or not isinstance(rec.get("error"), dict) or "Terminated" in rec["error"]["type"]:
        rec["status"] = "error"
        rec["error"] = {"type": "JobStopped", "message": f"{reason} (in phase {rec.get('phase')})", "traceback": ""}
        store_for_record(path).write(rec)
    return rec["status"]


def spec_id(spec_path: Path) -> str:
    return JobSpec.from_dict(read_json(spec_path)["spec"]).job_id
