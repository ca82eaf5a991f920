"""Is the judge worth believing? Measured beside every judged run, since no anchor of the field does it:

- the null comparison: real training records against the held-out real split, grouped and asked exactly like real
  vs synthetic. Both sides are real, so an unbiased judge splits evenly: `null_gap` = |win - lose| in points;
- A/B order agreement: the share of groups asked in both orders (category mode) whose two answers pick the same
  side (or both say equal); a judge that prefers a position rather than a set agrees by chance only;
- parse rate: answers that held a valid judgement, over all answers received;
- the distribution of real records' scores (the score summary's `real` side).

A run is `calibrated` when its null gap is at most NULL_GAP_MAX points and its parse rate at least PARSE_RATE_MIN;
otherwise its Table 3 row is marked as an uncalibrated judge.
"""
from __future__ import annotations

NULL_GAP_MAX = 20.0
PARSE_RATE_MIN = 0.9


def order_agreement(results: list[dict]) -> dict:
    """{"groups": groups with both orders answered, "agree": how many pick the same side, "rate"} over preference
    results (tasks/tools/preference.py) of category mode."""
    both, agree = 0, 0
    for res in results:
        for row in res["rows"]:
            answers = row.get("answers", [])
            if len(answers) != 2 or None in answers:
                continue
            sides = ["equal" if a == "equal" else "real" if (a == "A") == real_is_a else "other"
                     for a, real_is_a in zip(answers, row["real_is_a"])]
            both += 1
            agree += sides[0] == sides[1]
    return {"groups": both, "agree": agree, "rate": agree / both if both else None}


def calibration(null: dict[str, dict], category_results: list[dict], stats: dict) -> dict:
    """The record's calibration metrics. null: {mode: preference result of real-train vs held-out real}."""
    out: dict = {}
    gaps = []
    for mode, res in null.items():
        s = res["summary"]
        out.update({f"judge_null_{mode}_win": s["win"], f"judge_null_{mode}_equal": s["equal"],
                    f"judge_null_{mode}_lose": s["lose"]})
        if s["win"] is not None:
            gaps.append(abs(s["win"] - s["lose"]))
    order = order_agreement(category_results)
    received = stats.get("parsed", 0) + stats.get("unparsed", 0)
    parse_rate = stats.get("parsed", 0) / received if received else None
    out.update({"judge_null_gap": max(gaps) if gaps else None, "judge_order_agreement": order["rate"],
                "judge_parse_rate": parse_rate, "judge_ignored_structure": stats.get("ignored_structure", 0)})
    reasons = []
    if out["judge_null_gap"] is None or out["judge_null_gap"] > NULL_GAP_MAX:
        reasons.append("null comparison " + ("not judged" if out["judge_null_gap"] is None else
                                             f"{out['judge_null_gap']:.0f} points from even (max {NULL_GAP_MAX:.0f})"))
    if parse_rate is None or parse_rate < PARSE_RATE_MIN:
        reasons.append("parse rate " + ("unknown" if parse_rate is None else f"{parse_rate:.0%} (min {PARSE_RATE_MIN:.0%})"))
    out["judge_calibration"] = {"calibrated": not reasons, "why": "; ".join(reasons) or None,
                                "order_agreement": order, "null_gap_max": NULL_GAP_MAX,
                                "parse_rate_min": PARSE_RATE_MIN, "stats": dict(stats)}
    return out
