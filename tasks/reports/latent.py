"""DiffLM's latent in the leaderboards: the reconstruction check with the collapse diagnostics
(methods/difflm/diagnostics.py writes them into each record), and the mark on a row whose latent collapsed."""
from __future__ import annotations

from harness.api.tables import mean_std


def collapse_state(rec: dict) -> bool | None:
    """True when a DiffLM record's latent is collapsed: its `latent` verdict, or, for records made before the
    diagnostics, when its three reconstruction examples (three different held-out rows) decode to one row.
    None: not a DiffLM record, or no evidence either way."""
    extra = rec["method"].get("extra", {})
    if extra.get("latent"):
        return bool(extra["latent"]["collapsed"])
    examples = extra.get("reconstruction", {}).get("examples") or []
    if len(examples) >= 3 and len({e["original"] for e in examples}) == len(examples):
        return len({e["decoded"] for e in examples}) == 1
    return None


def collapse_mark(recs: list[dict]) -> str:
    """A row-name suffix that warns when some seeds' latents are collapsed."""
    n = sum(collapse_state(r) is True for r in recs)
    return f" ⚠ latent collapsed ({n}/{len(recs)} seeds)" if n else ""


def latent_cells(recs: list[dict]):
    """For a row's records: opt(key, digits), the mean of a latent diagnostic or `—` where a record lacks it;
    the active units as `mean/d_z`; and each record's collapse state."""
    lat = [r["method"]["extra"].get("latent") or {} for r in recs]

    def opt(key: str, digits: int) -> str:
        vals = [x.get(key) for x in lat]
        return mean_std(vals, digits) if all(v is not None for v in vals) else "—"

    au = (mean_std([x["active_units"] for x in lat], 0) + f"/{lat[0]['d_z']}"
          if all("active_units" in x for x in lat) else "—")
    return opt, au, [collapse_state(r) for r in recs]


def reconstruction(groups: dict) -> list[str]:
    """Rows whose records carry a reconstruction check (DiffLM: greedy decode from μ of held-out rows) and,
    from the records that have them, the collapse diagnostics (methods/difflm/diagnostics.py)."""
    rows = [(label, t, recs) for (label, t), recs in sorted(groups.items())
            if recs[0]["method"].get("extra", {}).get("reconstruction", {}).get("columns")]
    if not rows:
        return []
    lines = ["", "## VAE reconstruction check and latent use", "",
             "Held-out validation rows (a slice of the training rows, never the test split) encoded to μ and decoded",
             "greedily: does the VAE encode a row at all, apart from the prior? Column accuracy: mean over columns of",
             "the exact-match rate, beside the mode baseline (each column's most common training value written for",
             "every row). Distinct: share of different greedy decodes. Active units: latent dims whose μ varies across",
             "rows (Var > 0.01). Usage gap: reconstruction loss (nats/token) with another row's μ minus with the row's",
             "own; 0 means z carries nothing. Collapsed: the record's verdict; for records made before these",
             "diagnostics, `yes (examples)` when its three held-out examples decode to one row. `—`: not measured.", "",
             "| method | task | seeds | rows | valid | column accuracy | mode baseline | row exact | distinct | active units "
             "| usage gap | collapsed | worst columns |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, t, recs in rows:
        rc = [r["method"]["extra"]["reconstruction"] for r in recs]
        opt, au, states = latent_cells(recs)
        how = "" if all(r["method"]["extra"].get("latent") for r in recs) else " (examples)"
        collapsed = ("—" if all(s is None for s in states) else
                     f"{'yes' if all(states) else 'no' if not any(states) else f'{sum(map(bool, states))}/{len(states)}'}{how}")
        worst = sorted(rc[0]["columns"].items(), key=lambda kv: kv[1]["exact"])[:3]
        lines.append(f"| {label} | {t} | {len(recs)} | {rc[0]['rows']} | {mean_std([x['valid_rate'] for x in rc], 3)} | "
                     f"{mean_std([x['column_accuracy'] for x in rc], 3)} | {opt('mode_baseline', 3)} | "
                     f"{mean_std([x['row_exact_rate'] for x in rc], 3)} | {opt('distinct_decodes', 2)} | {au} | {opt('usage_gap', 3)} | "
                     f"{collapsed} | " + ", ".join(f"{c} {v['exact']:.2f}" for c, v in worst) + " |")
    return lines


def latent_use(records: list[dict], label_of: dict) -> list[str]:
    """The same check for records of any modality (code, tools, text): character similarity and exact rate of
    the greedy reconstructions, and the collapse diagnostics where the record has them."""
    groups = {}
    for r in records:
        if r["status"] == "ok" and r["method"].get("extra", {}).get("reconstruction"):
            groups.setdefault((label_of[r["job_id"]], r["task"]["name"]), []).append(r)
    if not groups:
        return []
    lines = ["## DiffLM's VAE: reconstruction and latent use", "",
             "Held-out training records encoded to μ and decoded greedily. Distinct: share of different decodes;",
             "active units: latent dims whose μ varies across records; usage gap: reconstruction loss (nats/token)",
             "with another record's μ minus with its own (0: z carries nothing); `—`: the record predates the check.",
             "", "| method | task | seeds | rows | char similarity | exact | distinct | active units | usage gap | collapsed |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for (label, t), recs in sorted(groups.items()):
        rc = [r["method"]["extra"]["reconstruction"] for r in recs]
        opt, au, states = latent_cells(recs)
        collapsed = "—" if all(s is None for s in states) else f"{sum(map(bool, states))}/{len(states)} seeds"
        lines.append(f"| {label} | {t} | {len(recs)} | {rc[0].get('rows', '—')} | "
                     f"{mean_std([x.get('char_similarity') for x in rc], 3)} | {mean_std([x.get('exact_rate') for x in rc], 3)} | "
                     f"{opt('distinct_decodes', 2)} | {au} | {opt('usage_gap', 3)} | {collapsed} |")
    return lines + [""]


def sections(records: list[dict], *, label_of: dict, notes: dict, out_dir) -> list[str]:
    """The report of a family with no sections of its own (text): the latent check of its DiffLM runs."""
    return latent_use(records, label_of)
