"""Markdown helpers shared by the leaderboard and the task families' report modules (kernel: no plugin
and no app import). Formatting only: every number comes from a record."""
from __future__ import annotations

import math


def finite(values) -> list[float]:
    return [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)]


def mean_std(values, digits: int) -> str:
    """'m ± s' over the finite values (sample std), '(k failed)' for the others; 'failed' when none is."""
    values = list(values)
    vals = finite(values)
    if not vals:
        return "failed"
    m = sum(vals) / len(vals)
    failed = f" ({len(values) - len(vals)} failed)" if len(vals) < len(values) else ""
    if len(vals) == 1:
        return f"{m:.{digits}f}{failed}"
    sd = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1))
    return f"{m:.{digits}f} ± {sd:.{digits}f}{failed}"


def where(recs) -> str:
    """Device and thread count as the records state them (timings are only comparable on one machine)."""
    return ", ".join(sorted({f"{r.get('env', {}).get('device', '?')} ({r.get('env', {}).get('threads', '?')} threads)"
                             for r in recs}))


def arrow(higher_is_better: bool) -> str:
    return "↑" if higher_is_better else "↓"


def digits_for(values) -> int:
    """3 decimals, or 2 for values that are typically ≥ 1 (percentages such as ρ)."""
    vals = finite(values)
    return 2 if vals and max(abs(v) for v in vals) >= 1 else 3
