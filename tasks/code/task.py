"""`code`: the paper's Table 2 experiment. A method writes a corpus of Python code; a base causal LM is
continued-pre-trained (CPT) on it and scored on HumanEval and MBPP (pass@k, and the per-token NLL of the
reference solutions). The `real` method's corpus is the real-CPT arm; the base model's own scores (no CPT) are
computed once per base model and evaluation settings, cached, and written into every record as `base_*`.

The run's --profile sets the CPT and evaluation settings (`PROTOCOLS`): every arm of a profile gets identical
settings and the same token cap, so arms differ only in their corpus. Executing model-written code needs an
explicit opt-in (--allow-code-exec or DIFFLM_ALLOW_CODE_EXEC=1), checked before any work.
"""
from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

from harness.api import DataError, Option, RecordMetadata, Scores, Splits, Task
from harness.api.io import write_json_atomic
from tasks.code.corpus import overlap_index, real_corpus
from tasks.code.cpt import CPTSettings
from tasks.code.evaluate import EvalSettings
from tasks.text import read_corpus, split_80_10_10



@dataclass(frozen=True)
class Protocol:
    base_model: str
    cpt: CPTSettings
    eval: EvalSettings
    label: str


PROTOCOLS = {
    "smoke": Protocol("tiny-llama", CPTSettings(lr=1e-3, epochs=1, block_size=64, batch_size=4, grad_accum=1,
                                                  max_tokens=2048),
                      EvalSettings(subset={"humaneval": 3, "mbpp": 3}, max_new_tokens=8, batch_size=3),
                      "smoke: random-init tiny model, 3 problems each"),
    # 2 cores: one epoch over at most 120k tokens per arm (about half an hour at Gemma-3-270M's training speed on
    # 2 cores; the measurement is in leaderboards/method_notes.csv, topic "sizing"), greedy pass@1 on all of
    # HumanEval and a fixed seeded 100 of MBPP's 500 test problems, plus NLL; lr 5e-5 (HF run_clm's default)
    # because 1e-5 over ~230 steps barely moves the model
    "cpu": Protocol("gemma3-270m", CPTSettings(lr=5e-5, epochs=1, block_size=512, batch_size=1, grad_accum=1,
                                               max_tokens=120_000,
                                               save_every_steps=25),
                    EvalSettings(subset={"mbpp": 100}, max_new_tokens=256, batch_size=16),
                    "cpu: 1 epoch ≤120k tokens, greedy pass@1 (HumanEval 164, MBPP seeded 100)"),
    "gpu": Protocol("gemma3-270m", CPTSettings(lr=1e-5, epochs=3, block_size=1024, batch_size=8, grad_accum=1,
                                               save_every_steps=200),
                    EvalSettings(n=20, temperature=0.2, ks=(1, 10), max_new_tokens=512, batch_size=64),
                    "gpu: 3 epochs, T 0.2 n 20 (pass@1/10)"),
    "paper": Protocol("gemma3-270m", CPTSettings(lr=1e-5, epochs=3, block_size=1024, batch_size=8, grad_accum=1,
                                               save_every_steps=200),
                      EvalSettings(n=200, temperature=0.2, ks=(1, 10, 100), max_new_tokens=512, batch_size=100),
                      "paper: lr 1e-5, 3 epochs, T 0.2 top-p 0.95 n 200 (pass@1/10/100)"),
}


def parse_rate(texts: list[str]) -> float:
    """Share of texts that `ast.parse` accepts: a diagnostic; the paper filters nothing for code."""
    ok = 0
    for t in texts:
        try:
            ast.parse(t)
            ok += 1
        except (SyntaxError, ValueError):
            pass
    return ok / len(texts) if texts else 0.0


class CodeTask(Task):
    name = "code"
    version = 1
    modality = "code"
    family = "code"
    report = "tasks.reports.code:sections"
    headline = ("humaneval_pass@1", "mbpp_pass@1", "humaneval_nll")
    label_defaults = {"base_model": None, "data": None}
    scoring_options = ("base_model",)        # the arm's base model: the synthetic corpus is the same

    options = (
        Option("data", help="a corpus of programs instead of the packaged one (.jsonl, .json or a folder of files)"),
        Option("text_field", help="the JSON field holding each program (default: text)"),
        Option("limit", "int", "use at most this many rows/records per split"),
        Option("base_model", help="the model continued-pre-trained on each corpus (default: the profile's, "
               "gemma3-270m; any Hugging Face name or path)"),
        Option("allow_code_exec", "bool", "run model-written programs (in a sandbox) to score them; required"),
    )

    def __init__(self, data: str | None = None, text_field: str = "text", limit: int | None = None,
                 base_model: str | None = None, allow_code_exec: bool = False, profile: str = "cpu"):
        if profile not in PROTOCOLS:
            raise DataError(f"the code task has no {profile!r} protocol (profiles: {', '.join(PROTOCOLS)})")
        self.data, self.text_field, self.limit = data, text_field, limit
        self.base_model, self.allow_code_exec, self.profile = base_model, allow_code_exec, profile

    @property
    def protocol(self) -> Protocol:
        p = PROTOCOLS[self.profile]
        return replace(p, base_model=self.base_model or p.base_model)

    def config(self) -> dict:
        # opting in to execution does not change a result, so it is not part of a job's identity
        return {k: v for k, v in super().config().items() if k != "allow_code_exec"}

    def load(self) -> Splits:
        from tasks.code.sandbox import check_opt_in

        check_opt_in(self.allow_code_exec)          # before any training: a run that cannot be scored refuses
        if self.data:
            texts = read_corpus(Path(self.data), self.text_field, lines_are_texts=False, file_glob="*.py")
            info = {"file": self.data}
        else:
            texts, info = real_corpus()
        train, val, test = split_80_10_10(texts, self.data or "the code corpus", self.limit)
        info.update(split="80/10/10, random_state=42", protocol=self.protocol.label, base_model=self.protocol.base_model,
                    train_overlap=overlap_index().report(train))
        return Splits(train, val, test, RecordMetadata(kind="code").check(train), info)

    def metrics(self, metadata) -> dict[str, bool]:
        out = {}
        for bench in self.protocol.eval.benchmarks:
            out.update({f"{bench}_pass@{k}": True for k in self.protocol.eval.ks})
            out[f"{bench}_nll"] = False
        return {**out, "corpus_parse_rate": True}

    def _base_scores(self, cache_dir: Path | None, work_dir: Path, quiet: bool) -> dict:
        """The base model's scores without CPT, computed once per (base model, evaluation settings)."""
        from harness.api.models import load_causal_lm
        from tasks.code.evaluate import evaluate

        p = self.protocol
        key = hashlib.sha256(json.dumps([self.version, p.base_model, p.eval.to_dict()], sort_keys=True).encode())
        folder = (cache_dir or work_dir) / "code-base" / key.hexdigest()[:16]
        if (folder / "metrics.json").exists():
            return json.loads((folder / "metrics.json").read_text())
        model, tok = load_causal_lm(p.base_model)
        metrics = evaluate(model, tok, p.eval, folder, quiet=quiet)
        write_json_atomic(folder / "metrics.json", metrics)
        return metrics

    def score(self, synthetic, splits: Splits, *, seed: int = 0, work_dir: Path | None = None,
              cache_dir: Path | None = None, quiet: bool = False) -> Scores:
        from harness.api.models import load_causal_lm
        from tasks.code.cpt import continue_pretraining
        from tasks.code.evaluate import evaluate

        if work_dir is None:
            raise DataError("the code task needs a work_dir for its CPT checkpoints and completions")
        p = self.protocol
        corpus = [t if isinstance(t, str) else json.dumps(t) for t in synthetic]
        overlap = overlap_index().report(corpus)
        base = self._base_scores(cache_dir, work_dir, quiet)
        model, tok = load_causal_lm(p.base_model)
        model, tok, cpt_info = continue_pretraining(model, corpus, settings=replace(p.cpt, seed=seed),
                                                    out_dir=work_dir / "cpt", tokenizer=tok, quiet=quiet)
        metrics = evaluate(model, tok, p.eval, work_dir / "eval", quiet=quiet)
        metrics.update({"corpus_parse_rate": parse_rate(corpus), "corpus_docs": len(corpus),
                        "cpt_docs": cpt_info["n_docs_used"], "cpt_tokens": cpt_info["n_tokens"],
                        "cpt_final_loss": cpt_info.get("final_loss"), "cpt_seconds": cpt_info.get("wall_s"),
                        "humaneval_docs_hit": overlap["humaneval"]["documents_hit"],
                        "mbpp_test_docs_hit": overlap["mbpp_test"]["documents_hit"],
                        **{f"base_{k}": v for k, v in base.items()}})
        write_json_atomic(work_dir / "details.json", {"cpt": cpt_info, "overlap": overlap, "protocol": p.label,
                                                      "base_model": p.base_model, "eval": p.eval.to_dict()})
        artifacts = {f"{b}_results": work_dir / "eval" / f"{b}.results.jsonl" for b in p.eval.benchmarks}
        return Scores(metrics, {**artifacts, "details": work_dir / "details.json"})
