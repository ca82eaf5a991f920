"""ρ, the column-wise density error (%): 100 × mean over columns of the KS statistic (numerical)
or the total variation distance (categorical), synthetic vs the real *training* split, target
included. These are sdmetrics' KSComplement / TVComplement, i.e. TabSyn's "Column Shapes" score."""
from __future__ import annotations

import numpy as np
import pandas as pd

from harness.api import TableMetadata


def column_shapes(real: pd.DataFrame, synthetic: pd.DataFrame, meta: TableMetadata) -> dict[str, float]:
    from sdmetrics.single_column import KSComplement, TVComplement

    scores = {}
    for c in meta.columns:
        r, s = real[c].dropna(), synthetic[c].dropna()
        if len(r) == 0 or len(s) == 0:
            scores[c] = np.nan
        elif c in meta.categorical:
            scores[c] = float(TVComplement.compute(r.astype(str), s.astype(str)))
        else:
            scores[c] = float(KSComplement.compute(r.astype(float), s.astype(float)))
    return scores


def rho(real: pd.DataFrame, synthetic: pd.DataFrame, meta: TableMetadata) -> dict:
    scores = column_shapes(real, synthetic, meta)
    values = [v for v in scores.values() if not np.isnan(v)]
    return {"rho": 100.0 * (1.0 - float(np.mean(values))) if values else float("nan"),
            "rho_per_column": {c: round(100.0 * (1.0 - v), 4) for c, v in scores.items()}}
