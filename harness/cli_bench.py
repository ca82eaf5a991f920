"""`python -m harness bench METHOD`: a method's own speed and memory benchmark, reached through the registry and
stored under <store>/bench/ (targets for speed live here and in benchmarks/, never in timed unit tests)."""
from __future__ import annotations

import json
import sys

from harness.cli_grid import store_flag


def add_bench_parser(sub, profiles: list[str]) -> None:
    b = sub.add_parser("bench", help="speed and memory of a method (printed and stored)")
    b.add_argument("method")
    b.add_argument("--task", default="adult")
    b.add_argument("--profile", default="cpu", choices=profiles)
    store_flag(b)
    b.add_argument("--dry-run", action="store_true", help="sizes only (parameters, checkpoint), no weights loaded")


def cmd_bench(args) -> int:
    """A method's own benchmark (`Method.benchmark(splits, profile=...)`), reached through the registry."""
    from datetime import datetime, timezone
    from pathlib import Path

    from harness.api.io import write_json_atomic
    from methods import METHODS
    from tasks import TASKS

    cls = METHODS.get(args.method)
    if not callable(getattr(cls, "benchmark", None)):
        print(f"error: method {args.method!r} has no benchmark", file=sys.stderr)
        return 2
    if args.dry_run:
        result = cls.benchmark(None, profile=args.profile, dry_run=True)
    else:
        result = cls.benchmark(TASKS.get(args.task)().load(), profile=args.profile)
    result.update(task=None if args.dry_run else args.task, method=args.method,
                  at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    path = Path(args.store) / "bench" / f"{args.method}-{args.task}-{args.profile}-{result['at'].replace(':', '')}.json"
    write_json_atomic(path, result)
    print(json.dumps(result, indent=1))
    print(f"stored in {path}")
    return 0
