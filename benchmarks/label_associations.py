"""How a synthetic table links the label to a few columns, against the real training split.

For each group of `--by` values: its share of rows and P(target = the positive class) in the real training
rows and in a run's synthetic rows. A classifier trained on rows whose associations are reversed scores below
chance on real test rows (how the earlier difflm-memory record reached an AUC of 0.345).

    python benchmarks/label_associations.py RUN_ID --by sex,relationship [--store runs]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from harness.store import Store
from tasks import TASKS
from tasks.tabular import canonical_category


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_id")
    p.add_argument("--by", default="sex,relationship")
    p.add_argument("--store", default="runs")
    p.add_argument("--positive", default=None, help="the positive class (default: the rarer one)")
    args = p.parse_args()
    store = Store(args.store)
    rec = store.find(args.run_id)
    if rec is None:
        raise SystemExit(f"no record {args.run_id!r} in {args.store}/")
    task = TASKS.get(rec["task"]["name"])(**{k: v for k, v in rec["task"]["config"].items() if v is not None})
    splits = task.load()
    meta, by = splits.metadata, [c.strip() for c in args.by.split(",")]
    syn = pd.read_csv(Path(args.store) / rec["synthetic_path"])
    for c in meta.categorical:
        syn[c] = canonical_category(syn[c])
    positive = args.positive or splits.train[meta.target].value_counts().idxmin()
    rows = []
    for name, df in (("real train", splits.train), ("synthetic", syn)):
        g = df.groupby(by)[meta.target]
        rows.append(pd.DataFrame({f"{name}: share": g.size() / len(df),
                                  f"{name}: P({positive})": g.apply(lambda s: (s == positive).mean())}))
    table = pd.concat(rows, axis=1).fillna(0).sort_values("real train: share", ascending=False)
    print(f"{rec['method']['name']} on {rec['task']['name']} ({rec['job_id']}): P({meta.target} = {positive}) by {by}")
    print(table.round(3).to_string())


if __name__ == "__main__":
    main()
