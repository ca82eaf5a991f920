"""Command line: list, run, leaderboard, show, fetch (bench, grid, status, worker: harness/cli_bench.py, cli_grid.py,
worker.py).
Heavy imports happen inside each command."""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys

from harness.cli_bench import add_bench_parser, cmd_bench
from harness.cli_grid import add_grid_parsers, cmd_grid, cmd_status, executor_flags, executor_options, store_flag

PROFILES = {"smoke": "seconds; tiny models and epochs, for CI",
            "cpu": "libraries' defaults, sized for 2 CPU cores",
            "gpu": "one GPU with the packaged small models (a method without one is refused, naming its profiles)",
            "paper": "the paper's settings (GPU for the LLM methods)"}
# A task's own flags come from its class (Task.options, harness/api/options.py); a task whose __init__ takes
# `profile` gets the run's --profile (e.g. the code task's CPT and evaluation settings).
RUN_PROFILE = "profile"


def _ints(s: str) -> list[int]:
    return [int(x) for x in s.split(",") if x.strip()]


def _names(s: str) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()]


def task_option_group(parser: argparse.ArgumentParser, task_name: str | None) -> None:
    """`run`'s flags for the chosen task's options (none when no known task is named yet)."""
    from tasks import TASKS

    if not task_name or task_name not in TASKS.names():
        parser.epilog = "`run --task NAME --help` lists that task's options; `harness list` lists every task's."
        return
    cls = TASKS.get(task_name)
    g = parser.add_argument_group(f"options of task {task_name}")
    for o in cls.declared_options():
        default = "" if o.default in (None, False, [], ()) else f" (default: {o.default})"
        if o.type == "bool":
            kw = {"action": "store_true"}
        else:
            kw = {"type": o.parse, **({"choices": list(o.choices)} if o.choices else {"metavar": o.type.upper()})}
        g.add_argument(o.flag, dest=o.name, default=None, help=(o.help or o.type) + default, **kw)


def parser(task_name: str | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m harness", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="tasks, methods and profiles")

    r = sub.add_parser("run", help="train methods on a task, sample, score, store records")
    r.add_argument("--task", required=True)
    r.add_argument("--methods", type=_names, default=None, help="comma-separated, e.g. real,smote,ctgan")
    r.add_argument("--profile", default="cpu", choices=sorted(PROFILES))
    r.add_argument("--seeds", default=[0], type=_ints, help="comma-separated, e.g. 0,1,2")
    r.add_argument("--n-samples", type=int, default=None, help="synthetic rows (default: as many as train)")
    store_flag(r)
    r.add_argument("--force", action="store_true", help="recompute finished records")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    r.add_argument("--reuse-archive", action="store_true",
                   help="also reuse finished records from leaderboards/records/ (made on other machines) instead of running them")
    r.add_argument("--set", action="append", default=[], metavar="METHOD.PARAM=VALUE",
                   help="override one param of the profile, e.g. difflm.decoding=free (repeatable; the row name shows it)")
    r.add_argument("--no-preflight", action="store_true",
                   help="skip the fit + sample on ~200 rows that each method gets before its real fit")
    executor_flags(r)
    task_option_group(r, task_name)

    lb = sub.add_parser("leaderboard", help="regenerate leaderboards/*.md from stored records only")
    store_flag(lb)
    lb.add_argument("--include-smoke", action="store_true")
    lb.add_argument("--include-user-data", action="store_true",
                    help="also archive runs on users' own files (csv, text tasks); never done unless asked")
    lb.add_argument("--out", default=None, help="output folder (default: the repo's leaderboards/, and README.md)")

    sh = sub.add_parser("show", help="print one run record")
    sh.add_argument("run_id")
    store_flag(sh)

    add_bench_parser(sub, sorted(PROFILES))

    w = sub.add_parser("worker", help="run one job from its spec file (what executors start)", add_help=False)
    w.add_argument("rest", nargs=argparse.REMAINDER)

    add_grid_parsers(sub, _ints)

    f = sub.add_parser("fetch", help="download datasets from the UCI origin (sha256-checked)")
    f.add_argument("names", nargs="*", default=[])
    from harness.envs import add_parser as add_env_parser
    add_env_parser(sub)
    return p


def cmd_list(args) -> int:
    from methods import METHODS
    from tasks import TASKS

    print("tasks (`run --task NAME --help` explains each option):")
    for name in TASKS.names():
        cls = TASKS.get(name)
        opts = ", ".join(o.flag + ("" if o.type == "bool" else f" {o.type.upper()}") for o in cls.declared_options())
        print(f"  {name:<10} {cls.modality:<6} options: {opts or 'none'}")
    print("methods:  " + ", ".join(METHODS.names()) + "  (each refuses data it does not handle before any work)")
    from harness.envs import environments
    for env_name, (env, names) in sorted(environments().items()):
        print(f"          {', '.join(names)} run in the {env_name} environment ("
              + ("built" if env.ready() else f"not built: `python -m harness env {env_name}`") + ")")
    print("profiles: " + "; ".join(f"{k} ({v})" for k, v in PROFILES.items()))
    return 0


def build_task(args):
    """The task named by --task, given the task options the user set (each must be one the task takes)."""
    from harness.api import DataError
    from tasks import TASKS

    cls = TASKS.get(args.task)
    options = cls.declared_options()
    extra = getattr(args, "extra", [])
    if extra:
        wrong = [a.split("=")[0] for a in extra if a.startswith("-")] or extra
        takes = ", ".join(o.flag for o in options) or "none"
        raise DataError(f"{', '.join(wrong)} {'is not an option' if len(wrong) == 1 else 'are not options'} of task "
                        f"{args.task} (its options: {takes})")
    given = {o.name: getattr(args, o.name) for o in options if getattr(args, o.name, None) is not None}
    if RUN_PROFILE in cls.option_names() and getattr(args, "profile", None):
        given[RUN_PROFILE] = args.profile
    return cls(**given)


def parse_sets(items: list[str], methods: list[str]) -> dict:
    """["difflm.decoding=free", "tvae.epochs=5"] -> {"difflm": {"decoding": "free"}, "tvae": {"epochs": 5}}."""
    from harness.api import DataError

    out: dict = {}
    for item in items:
        name, _, value = item.partition("=")
        method, _, key = name.rpartition(".")
        if not (method and key and _):
            raise DataError(f"--set {item!r}: expected METHOD.PARAM=VALUE")
        if method not in methods:
            raise DataError(f"--set {item!r}: {method!r} is not one of --methods {','.join(methods)}")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        out.setdefault(method, {})[key] = parsed
    return out


def cmd_run(args) -> int:
    if args.quiet:
        os.environ["TQDM_DISABLE"] = "1"
    from harness import runner
    from harness.store import Archive, Store

    task = build_task(args)
    if not args.methods:
        from harness.api import DataError
        task.load()                       # report a bad data file before the missing flag
        raise DataError("no methods given: pass --methods NAME[,NAME...] (see `python -m harness list`)")
    overrides = parse_sets(args.set, args.methods)
    command = "python -m harness " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    store = Store(args.store)
    reuse = (Archive(),) if args.reuse_archive else ()
    records = runner.run(task, args.methods, args.seeds, profile=args.profile, n_samples=args.n_samples,
                         store=store, force=args.force, quiet=args.quiet, command=command, overrides=overrides,
                         reuse_from=reuse, preflight=not args.no_preflight, executor=executor_options(args))
    failed = [r for r in records if r["status"] != "ok"]
    print(f"{len(records) - len(failed)} ok, {len(failed)} failed; records under {store.root}/{task.name}/ "
          f"(`python -m harness leaderboard` archives them and rebuilds the tables)")
    return 1 if failed else 0


def cmd_leaderboard(args) -> int:
    from pathlib import Path

    from harness import leaderboard
    from harness.store import BOARD_DIR, Store

    out = Path(args.out) if args.out else BOARD_DIR
    for path in leaderboard.write_all(Store(args.store), include_smoke=args.include_smoke, out_dir=out,
                                      include_user_data=args.include_user_data):
        print(f"wrote {path}")
    return 0


def cmd_show(args) -> int:
    from harness.store import Archive, Store

    rec = Store(args.store).find(args.run_id) or Archive().find(args.run_id)
    if rec is None:
        print(f"error: no record {args.run_id!r} in {args.store}/ or leaderboards/records/", file=sys.stderr)
        return 2
    print(json.dumps(rec, indent=1, sort_keys=True))
    return 0


def cmd_env(args) -> int:
    from harness.envs import cmd_env as run_env
    return run_env(args)


def cmd_fetch(args) -> int:
    from tasks import data

    for name in args.names or list(data.SOURCES):
        paths = data.fetch(name)
        print(f"{name}: " + ", ".join(str(p) for p in paths.values()))
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from harness.api import DataError

    if argv[:1] == ["worker"]:       # its own parser (harness/worker.py): what executors start on a node
        from harness import worker
        return worker.main(argv[1:])

    task_name = None
    if argv[:1] == ["run"]:         # the chosen task's options become flags (Task.options)
        pre = argparse.ArgumentParser(add_help=False)
        pre.add_argument("--task")
        task_name = pre.parse_known_args(argv[1:])[0].task
    args, extra = parser(task_name).parse_known_args(argv)
    if extra and args.command != "run":
        parser(task_name).parse_args(argv)          # argparse's own error for the other commands
    args.extra = extra
    try:
        return {"list": cmd_list, "run": cmd_run, "leaderboard": cmd_leaderboard, "show": cmd_show,
                "bench": cmd_bench, "fetch": cmd_fetch, "grid": cmd_grid, "status": cmd_status, "env": cmd_env}[args.command](args)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyError as e:   # unknown task or method name: the registry's message lists the choices
        if "unknown" not in str(e):
            raise
        print(f"error: {e.args[0]}", file=sys.stderr)
        return 2
