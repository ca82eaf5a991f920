"""The grid's commands (`grid`, `status`) and the executor flags that `run` shares with `grid`."""
from __future__ import annotations

import argparse
import os
import shlex
import sys

def store_flag(parser: argparse.ArgumentParser) -> None:
    """`--store`: where run records go; HARNESS_RUNS or ./runs (every command that reads or writes runs)."""
    parser.add_argument("--store", default=os.environ.get("HARNESS_RUNS", "runs"))


def add_grid_parsers(sub, ints) -> None:
    g = sub.add_parser("grid", help="run a grid file's jobs (tasks × methods × seeds) through an executor")
    g.add_argument("grid", help="a grid TOML (grids/*.toml ships one per leaderboard)")
    g.add_argument("--dry-run", action="store_true", help="job count and cost from measured wall times; runs nothing")
    g.add_argument("--workers", type=ints, default=[1, 4, 16, 64], help="dry run: the worker counts to cost")
    store_flag(g)
    g.add_argument("--force", action="store_true")
    g.add_argument("--quiet", action="store_true")
    g.add_argument("--reuse-archive", action="store_true")
    g.add_argument("--no-preflight", action="store_true")
    executor_flags(g)

    st = sub.add_parser("status", help="done / running / failed / pending jobs of a grid (or of the whole store)")
    st.add_argument("grid", nargs="?", default=None)
    store_flag(st)


def executor_flags(p: argparse.ArgumentParser) -> None:
    """Where jobs run. None of these given: one after another in this process, as always."""
    g = p.add_argument_group("executors (default: jobs run one after another in this process)")
    g.add_argument("--executor", choices=["local", "ray", "slurm"], default=None,
                   help="run each job as a worker process: here (local), on a Ray cluster, or on Slurm (submitit)")
    g.add_argument("--jobs", type=int, default=None, help="local: jobs at once (implies --executor local)")
    g.add_argument("--job-timeout", type=float, default=None, metavar="SECONDS",
                   help="stop a job after this long; it ends `error` with its phase and resumes on a rerun")
    g.add_argument("--threads", type=int, default=None, help="threads per job (default: cores / jobs at once)")
    g.add_argument("--ray-address", default=None, help="ray: cluster address (default: auto, else a local Ray)")
    g.add_argument("--slurm-config", default=None, metavar="TOML",
                   help="slurm: a file of partition, time_min, account, cpus, gpus, mem_gb, folder")
    for key in ("partition", "account"):
        g.add_argument(f"--slurm-{key}", default=None)
    g.add_argument("--slurm-time", type=int, default=None, metavar="MINUTES")


def executor_options(args):
    """The executor the flags ask for, or None (in-process)."""
    from harness.executors.base import Options

    name = args.executor or ("local" if args.jobs or args.job_timeout else None)
    if name is None:
        return None
    slurm = {}
    if args.slurm_config:
        import tomllib
        with open(args.slurm_config, "rb") as f:
            slurm.update(tomllib.load(f))
    slurm.update({k: v for k, v in (("partition", args.slurm_partition), ("account", args.slurm_account),
                                    ("time_min", args.slurm_time)) if v is not None})
    return Options(name=name, jobs=args.jobs or 1, job_timeout_s=args.job_timeout, ray_address=args.ray_address,
                   slurm=slurm, threads=args.threads)


def cmd_grid(args) -> int:
    from harness import grid
    from harness.executors.submit import run_works, works_for
    from harness.store import Archive, Store

    if args.quiet:
        os.environ["TQDM_DISABLE"] = "1"
    store, reuse = Store(args.store), ((Archive(),) if args.reuse_archive else ())
    planned = grid.expand(grid.load(args.grid), store, force=args.force, reuse_from=reuse)
    if args.dry_run:
        print("\n".join(grid.dry_run(planned, grid.measured_seconds(Archive().records()), tuple(args.workers),
                                      archive=Archive())))
        return 0
    from harness.planning import check_environments
    from methods import METHODS
    check_environments({j.name: METHODS.get(j.name) for _, jobs in planned for j in jobs if j.reused is None})
    options = executor_options(args)
    if options is None:
        from harness.executors.base import Options
        options = Options()
    command = "python -m harness " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    works = [w for task, jobs in planned for w in works_for(task.name, jobs, store, command=command, force=args.force,
                                                             preflight=not args.no_preflight,
                                                             reuse_archive=bool(reuse))]
    done = sum(len(jobs) for _, jobs in planned) - len(works)
    print(f"{args.grid}: {done + len(works)} jobs, {done} already done (store: {store.root}/)", flush=True)
    outcomes = run_works(works, options, quiet=args.quiet)
    failed = [o for o in outcomes if o.status != "ok"]
    print(f"{len(outcomes) - len(failed)} ok, {len(failed)} failed, {done} done before; "
          f"`python -m harness status {args.grid}` shows the grid")
    return 1 if failed else 0


def cmd_status(args) -> int:
    from collections import Counter

    from harness import grid
    from harness.store import Store

    store = Store(args.store)
    if args.grid:
        print("\n".join(grid.status_lines(grid.expand(grid.load(args.grid), store), store)))
        return 0
    counts = Counter((r["task"]["name"], r["method"]["name"], r["status"]) for r in store.records())
    for (task, method, status), n in sorted(counts.items()):
        print(f"{task}/{method}: {n} {status}")
    return 0
