"""A job's lease in a store many workers share: who runs it now, claimed atomically, kept alive by a heartbeat.

Why files and not a lock server: the store is a folder on a shared filesystem (NFS, Lustre, a laptop disk), the
one thing every executor's workers see. The primitives used are the ones such filesystems make atomic:
create-exclusive (O_CREAT | O_EXCL) and rename.

- `lease.json` in the job's folder names its holder (host, pid, executor, attempt) and a random token; the
  holder touches it every `HEARTBEAT_S`.
- A lease is stale when its file has not been touched for `STALE_S` (a lost node), or when its holder runs on
  this host and its pid is gone (a killed worker: no need to wait). A stale lease is taken over by the first
  worker that creates `lease.json.takeover-<token>` exclusively; any other contender loses that race and waits.
- The holder checks its token at every beat: a worker that stalled so long that its lease was taken over stops
  writing (`lost`), so two attempts never write one record.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path

HEARTBEAT_S = float(os.environ.get("HARNESS_LEASE_HEARTBEAT_S", 5))
STALE_S = float(os.environ.get("HARNESS_LEASE_STALE_S", 60))
NAME = "lease.json"


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):     # gone, or being written right now
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(path: Path, holder: dict | None, stale_s: float = None) -> bool:
    stale_s = STALE_S if stale_s is None else stale_s
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False
    if age > stale_s:
        return True
    return bool(holder and holder.get("host") == socket.gethostname() and not _pid_alive(int(holder.get("pid", 0))))


class Lease:
    """Held by one attempt of one job. `acquire` returns a Lease or None (someone else holds a live one)."""

    def __init__(self, job_dir: Path, holder: dict):
        self.path, self.holder = Path(job_dir) / NAME, holder
        self.lost = False
        self._stop = threading.Event()
        self._beat = None

    @classmethod
    def acquire(cls, job_dir: Path, *, executor: str = "local", attempt: int = 1) -> "Lease | None":
        job_dir = Path(job_dir)
        job_dir.mkdir(parents=True, exist_ok=True)
        holder = {"token": uuid.uuid4().hex, "host": socket.gethostname(), "pid": os.getpid(),
                  "executor": executor, "attempt": attempt, "since": time.time()}
        lease = cls(job_dir, holder)
        if lease._create() or lease._take_over():
            lease._start_heartbeat()
            return lease
        return None

    def _create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            json.dump(self.holder, f)
        return True

    def _take_over(self) -> bool:
        old = _read(self.path)
        if old is None or not is_stale(self.path, old):
            return False
        marker = self.path.with_name(f"{NAME}.takeover-{old.get('token', 'none')}")
        try:                                     # only one contender creates the marker of this stale token
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            return False
        self.holder["took_over"] = {k: old.get(k) for k in ("host", "pid", "executor", "attempt")}
        tmp = self.path.with_name(f".{NAME}.{self.holder['token']}")
        tmp.write_text(json.dumps(self.holder))
        os.replace(tmp, self.path)
        return True

    def _start_heartbeat(self) -> None:
        def beat():
            while not self._stop.wait(HEARTBEAT_S):
                if not self.still_held():
                    self.lost = True
                    return
                try:
                    os.utime(self.path)
                except FileNotFoundError:
                    self.lost = True
                    return
        self._beat = threading.Thread(target=beat, name="lease-heartbeat", daemon=True)
        self._beat.start()

    def still_held(self) -> bool:
        cur = _read(self.path)
        return bool(cur and cur.get("token") == self.holder["token"])

    def release(self) -> None:
        self._stop.set()
        if self.still_held():        # takeover markers stay: a late contender must never win an old token again
            self.path.unlink(missing_ok=True)


def holder_of(job_dir: Path) -> dict | None:
    """The live holder of a job's lease, or None (no lease, or a stale one)."""
    path = Path(job_dir) / NAME
    cur = _read(path)
    return None if cur is None or is_stale(path, cur) else cur
