"""`python -m harness env NAME`: build a method's own environment from its committed lock (harness.api.envs).

The environment is a venv under ~/.cache/difflm-bench/envs/NAME-LOCKHASH (or $DIFFLM_ENVS_DIR), created with
this interpreter (the lock was resolved for its major.minor) and filled with `pip install --no-deps -r LOCK`:
every version is pinned, so pip resolves nothing and nothing of the lock reaches our environment. The build
ends by running the environment's check (its imports) and writing ready.json (lock hash, interpreter,
versions); until then the environment does not count as built, so an interrupted build is simply redone.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from harness.api import DataError
from harness.api.envs import READY, Environment, envs_dir


def environments() -> dict[str, tuple[Environment, list[str]]]:
    """{env name: (environment, [methods that run in it])} over every registered method."""
    from methods import METHODS

    out: dict = {}
    for name in METHODS.names():
        env = getattr(METHODS.get(name), "environment", None)
        if env is not None:
            out.setdefault(env.name, (env, []))[1].append(name)
    return out


def _run(cmd: list, *, quiet: bool) -> None:
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL if quiet else None, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise DataError(f"`{' '.join(map(str, cmd[:4]))} ...` failed (exit {proc.returncode}):\n"
                        + "\n".join(proc.stderr.strip().splitlines()[-15:]))


def build(env: Environment, *, rebuild: bool = False, quiet: bool = False) -> dict:
    """Build (or find) the environment; returns its ready.json."""
    if env.ready() and not rebuild:
        return env.info()
    want = tuple(int(x) for x in env.python.split("."))
    if sys.version_info[:2] != want:
        raise DataError(f"the {env.name} lock was resolved for Python {env.python}; this is Python "
                        f"{sys.version.split()[0]}: run `python{env.python} -m harness env {env.name}`")
    root = env.root()
    busy = root.with_name(root.name + ".building")
    root.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(busy, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        raise DataError(f"{root} is being built by another process ({busy}; remove it if that build died)")
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    try:
        if root.exists():
            shutil.rmtree(root)
        t0 = time.monotonic()
        print(f"{env.name}: creating {root}" + (f" ({env.size_note})" if env.size_note else ""), file=sys.stderr)
        _run([sys.executable, "-m", "venv", root], quiet=quiet)
        py = str(root / "bin" / "python")
        _run([py, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check", "--no-input",
              *env.pip_args, "-r", str(env.lock)], quiet=quiet)
        if env.check:
            _run([py, "-c", env.check], quiet=quiet)
        probe = ("import json, sys; from importlib import metadata as m; "
                 f"print(json.dumps({{n: m.version(n) for n in {list(env.versions)!r}}}))")
        versions = json.loads(subprocess.run([py, "-c", probe], capture_output=True, text=True,
                                             check=True).stdout)
        info = {"name": env.name, "lock_hash": env.lock_hash(), "lock": str(env.lock), "interpreter": py,
                "python": sys.version.split()[0], "versions": versions, "build_s": round(time.monotonic() - t0, 1),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        (root / READY).write_text(json.dumps(info, indent=1))
        return info
    finally:
        busy.unlink(missing_ok=True)


def add_parser(sub) -> None:
    e = sub.add_parser("env", help="build a method's own environment from its lock (e.g. synthcity)")
    e.add_argument("names", nargs="*", help="environments to build (none: list them)")
    e.add_argument("--rebuild", action="store_true", help="build again even when built")
    e.add_argument("--quiet", action="store_true", help="no pip output")


def cmd_env(args) -> int:
    known = environments()
    if not args.names:
        print(f"environments (under {envs_dir()}):")
        for name, (env, methods) in sorted(known.items()):
            state = "built" if env.ready() else "not built"
            print(f"  {name}: {state} ({env.root().name}); methods: {', '.join(methods)}")
        return 0
    for name in args.names:
        if name not in known:
            raise DataError(f"no environment {name!r}; environments: {', '.join(sorted(known)) or 'none'}")
        info = build(known[name][0], rebuild=args.rebuild, quiet=args.quiet)
        vers = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
        print(f"{name}: ready at {Path(info['interpreter']).parent.parent} ({vers}; lock {info['lock_hash']})")
    return 0
