"""`tools`: the paper's Table 3 / Figure 2 experiment. A method writes ToolBench-style API records (nested JSON);
deterministic proxies score every run, and an OpenAI-compatible judge — when one is configured — scores each
record 0–10 and compares real and synthetic sets (win / equal / lose).

The judge: --judge-base-url and --judge-model (or DIFFLM_JUDGE_BASE_URL / DIFFLM_JUDGE_MODEL); the key only
from the environment (DIFFLM_JUDGE_API_KEY or OPENAI_API_KEY), never a flag, since the command line is stored
in every record. Every request and answer is cached (`<store>/_cache/judge/`), so a killed run resumes without
asking again and tables rebuild offline. Without a judge the record says it was skipped and why.
Real side of every judgement: the training records (the authors judge their train.jsonl).
"""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from harness.api import DataError, Option, RecordMetadata, Scores, Splits, Task
from harness.api.io import write_json_atomic
from tasks.tools.proxies import embed, is_valid, proxy_metrics
from tasks.tools.records import load_split, schema_for

MODES = ("faithful", "category")


def _sample(records: list, limit: int | None, seed: int) -> list:
    if not limit or len(records) <= limit:
        return list(records)
    return random.Random(seed).sample(list(records), limit)


class ToolsTask(Task):
    name = "tools"
    version = 1
    modality = "json"
    family = "tools"
    report = "tasks.reports.tools:sections"
    headline = ("valid_rate", "tool_proxy_score", "judge_faithful_win")
    label_defaults = {"judge_mode": "faithful,category", "judge_limit": None, "judge_max_tokens": None,
                      "judge_structured": "object"}
    scoring_options = ("judge_model", "judge_mode", "judge_limit", "judge_max_tokens", "judge_structured")

    options = (
        Option("limit", "int", "use at most this many rows/records per split"),
        Option("judge_base_url", help="an OpenAI-compatible endpoint (or DIFFLM_JUDGE_BASE_URL); the key is read "
               "from DIFFLM_JUDGE_API_KEY or OPENAI_API_KEY, never from a flag"),
        Option("judge_model", help="the judge model (or DIFFLM_JUDGE_MODEL)"),
        Option("judge_mode", help="faithful (the authors' grouping by tool name, names only), category, or both"),
        Option("judge_limit", "int", "judge at most this many records per side (seeded sample; default all)"),
        Option("judge_max_tokens", "int", "cap on each judge answer in tokens (default 512; or DIFFLM_JUDGE_MAX_TOKENS)"),
        Option("judge_structured", choices=("object", "schema"), help="ask for a JSON object (the authors' request) "
               "or a JSON schema per judgement (guided decoding, e.g. vLLM)"),
    )

    def __init__(self, limit: int | None = None, judge_base_url: str | None = None, judge_model: str | None = None,
                 judge_mode: str = "faithful,category", judge_limit: int | None = None,
                 judge_max_tokens: int | None = None, judge_structured: str = "object"):
        modes = [m.strip() for m in judge_mode.split(",") if m.strip()]
        if not modes or set(modes) - set(MODES):
            raise DataError(f"--judge-mode {judge_mode!r}: expected one or both of {', '.join(MODES)}")
        self.limit, self.judge_mode, self.judge_limit = limit, ",".join(modes), judge_limit
        self.judge_base_url, self.judge_model = judge_base_url, judge_model
        self.judge_max_tokens, self.judge_structured = judge_max_tokens, judge_structured
        self.modes = modes

    def config(self) -> dict:
        # where the judge is served does not change a judgement; which model judges does (flag or environment)
        cfg = self._judge_config()
        out = {k: v for k, v in super().config().items() if k != "judge_base_url"}
        for k, default in (("judge_max_tokens", None), ("judge_structured", "object")):
            if out.get(k) == default:     # at their defaults they leave the job ids of earlier runs as they were
                out.pop(k, None)
        return {**out, "judge_model": cfg.model if cfg.configured()[0] else None}

    def load(self) -> Splits:
        data = load_split()
        train, val, test = data["train"], data["val"], data["test"]
        if self.limit:
            train, val, test = train[:self.limit], val[:self.limit], test[:self.limit]
        self.categories_ = data["categories"]
        meta = RecordMetadata(kind="json", schema=schema_for(train)).check(train)
        return Splits(train, val, test, meta, {**data["info"], "judge": self._judge_config().describe()})

    def _judge_config(self):
        from tasks.tools.judge import JudgeConfig

        return JudgeConfig.from_options(base_url=self.judge_base_url, model=self.judge_model,
                                        max_tokens=self.judge_max_tokens, structured=self.judge_structured)

    def metrics(self, metadata) -> dict[str, bool]:
        out = {"valid_rate": True, "well_formed_rate": True, "tool_proxy_score": True, "distinct_2": True,
               "exact_dup_train": False, "near_dup_train": False, "emb_centroid_dist": False,
               "judge_score_syn": True}
        for mode in self.modes:
            out.update({f"judge_{mode}_win": True, f"judge_{mode}_lose": False})
        return out

    def _groups(self, records: list[dict], mode: str, train: list[dict]) -> dict[str, list[dict]]:
        """faithful: by tool_name; category: by ToolBench category — a synthetic tool takes the category of the
        training tool with its name, else of its nearest training record (MiniLM)."""
        groups: dict[str, list[dict]] = {}
        if mode == "faithful":
            for r in records:
                groups.setdefault(r["tool_name"], []).append(r)
            return groups
        cats = getattr(self, "categories_", None) or load_split()["categories"]
        unknown = [r for r in records if r["tool_name"] not in cats]
        nearest = {}
        if unknown:
            sims = embed([json.dumps(r, ensure_ascii=False) for r in unknown]) @ \
                embed([json.dumps(r, ensure_ascii=False) for r in train]).T
            nearest = {id(r): cats[train[int(j)]["tool_name"]] for r, j in zip(unknown, sims.argmax(1))}
        for r in records:
            groups.setdefault(cats.get(r["tool_name"]) or nearest[id(r)], []).append(r)
        return groups

    def _judge(self, real: list[dict], syn: list[dict], held_out: list[dict], *, seed: int, cache_dir: Path,
               work_dir: Path, quiet: bool) -> dict:
        from tasks.tools.calibration import calibration
        from tasks.tools.judge import Judge
        from tasks.tools.preference import preference, score_records, score_summary

        cfg = self._judge_config()
        judge = Judge(cfg, cache_dir / "judge" / "cache.jsonl")
        real_s, syn_s = _sample(real, self.judge_limit, seed), _sample(syn, self.judge_limit, seed)
        held_s = _sample(held_out, self.judge_limit, seed)
        real_scores = score_records(judge, real_s, progress=not quiet)
        syn_scores = score_records(judge, syn_s, progress=not quiet)
        summary = score_summary([s.score for s in real_scores], [s.score for s in syn_scores])
        out = {"judge": {**cfg.describe(), "status": "judged"}, "judge_model": cfg.model,
               "judge_score_syn": summary["syn"]["mean"], "judge_score_real": summary["real"]["mean"],
               "judge_scores": summary}
        details, null, category = {"scores": summary}, {}, []
        for mode in self.modes:
            res = preference(judge, self._groups(real_s, mode, real), self._groups(syn_s, mode, real), mode=mode,
                             seed=42, progress=not quiet)
            s = res["summary"]
            out.update({f"judge_{mode}_win": s["win"], f"judge_{mode}_equal": s["equal"],
                        f"judge_{mode}_lose": s["lose"], f"judge_{mode}_groups": s["n_groups"],
                        f"judge_{mode}_failed": s["n_failed"]})
            details[f"preference_{mode}"] = res
            # the null comparison: the held-out real split in the synthetic data's place, asked the same way
            null[mode] = preference(judge, self._groups(real_s, mode, real), self._groups(held_s, mode, real),
                                    mode=mode, seed=42, progress=not quiet)
            out[f"judge_null_{mode}_failed"] = null[mode]["summary"]["n_failed"]
            details[f"null_{mode}"] = null[mode]
            if mode == "category":
                category += [res, null[mode]]
        out.update(calibration(null, category, judge.stats))
        out["judge"]["served"] = judge.served[:10]
        if out["judge_ignored_structure"]:
            note = (f"the judge server ignored the request for JSON on {out['judge_ignored_structure']} answer(s) "
                    f"(free prose; parsed from it where possible, parse rate {out['judge_parse_rate']:.0%})")
            out["judge"]["note"] = note
            print(f"tools: judge: {note}", file=sys.stderr, flush=True)
        if not out["judge_calibration"]["calibrated"]:
            print(f"tools: judge uncalibrated: {out['judge_calibration']['why']}", file=sys.stderr, flush=True)
        write_json_atomic(work_dir / "judge.json", details)
        return out

    def score(self, synthetic, splits: Splits, *, seed: int = 0, work_dir: Path | None = None,
              cache_dir: Path | None = None, quiet: bool = False) -> Scores:
        metrics = proxy_metrics(list(synthetic), splits.train, splits.test)
        ok, why = self._judge_config().configured()
        if not ok:
            metrics["judge"] = {"status": "skipped", "why": why}
            print(f"tools: judge skipped: {why}", file=sys.stderr, flush=True)
            return Scores(metrics)
        if work_dir is None:
            raise DataError("the tools task's judge needs a work_dir for its answers")
        from tasks.tools.judge import JudgeUnavailable

        valid = [r for r in synthetic if is_valid(r)]
        try:
            metrics.update(self._judge(splits.train, valid, splits.test, seed=seed, cache_dir=cache_dir or work_dir,
                                       work_dir=work_dir, quiet=quiet))
        except JudgeUnavailable as e:       # down, or not serving the model: nothing was asked; a rerun tries again
            metrics["judge"] = {**self._judge_config().describe(), "status": "error", "why": str(e)}
            print(f"tools: judge not asked: {e}", file=sys.stderr, flush=True)
            return Scores(metrics, incomplete=f"judge not asked: {e}")
        failed = {"scores": sum(metrics["judge_scores"][side]["n_failed"] for side in ("real", "syn")),
                  **{mode: metrics[f"judge_{mode}_failed"] for mode in self.modes},
                  **{f"null {mode}": metrics[f"judge_null_{mode}_failed"] for mode in self.modes}}
        failed = {k: v for k, v in failed.items() if v}
        stats = metrics["judge_calibration"]["stats"]
        # answers never received (down, time-outs, 5xx) make the scores incomplete; an answer that never parsed is
        # a judgement that failed (counted in the parse rate), and asking it again would not change it
        unanswered = stats.get("asked", 0) + stats.get("cached", 0) - stats.get("parsed", 0) - stats.get("unparsed", 0)
        why = (f"judge requests failed after their retries ({', '.join(f'{k}: {v}' for k, v in failed.items())}); "
               "the next run asks them again (answers already received come from the cache)") if unanswered else None
        return Scores(metrics, {"judge": work_dir / "judge.json"}, incomplete=why)
