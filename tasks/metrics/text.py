"""Deterministic proxy metrics for text corpora: no model, no judge, same numbers on any machine.

They say whether a synthetic corpus looks like the real one in shape (lengths, word use), whether it
varies (distinct bigrams) and whether it copies training texts. They are not quality scores: a corpus
can match every proxy and still be nonsense.
"""
from __future__ import annotations

import re
from collections import Counter

import numpy as np

WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def distinct_n(texts: list[str], n: int = 2) -> float:
    """Distinct word n-grams / all word n-grams over the corpus (Li et al. 2016); 0 for an empty corpus."""
    grams = Counter()
    for t in texts:
        w = words(t)
        grams.update(tuple(w[i:i + n]) for i in range(len(w) - n + 1))
    total = sum(grams.values())
    return len(grams) / total if total else 0.0


def unigram_tvd(a: list[str], b: list[str]) -> float:
    """Total variation distance between the word frequency distributions of two corpora (0 = same)."""
    ca, cb = Counter(w for t in a for w in words(t)), Counter(w for t in b for w in words(t))
    na, nb = sum(ca.values()), sum(cb.values())
    if not na or not nb:
        return 1.0
    return 0.5 * sum(abs(ca[w] / na - cb[w] / nb) for w in set(ca) | set(cb))


def length_ks(a: list[str], b: list[str]) -> float:
    """Kolmogorov–Smirnov statistic between the word-count distributions of two corpora."""
    la, lb = np.sort([len(words(t)) for t in a]), np.sort([len(words(t)) for t in b])
    if not len(la) or not len(lb):
        return 1.0
    grid = np.union1d(la, lb)
    cdf = lambda x: np.searchsorted(x, grid, side="right") / len(x)
    return float(np.max(np.abs(cdf(la) - cdf(lb))))


def copy_rate(synthetic: list[str], train: list[str]) -> float:
    """Share of synthetic texts identical (after stripping whitespace) to a training text."""
    seen = {t.strip() for t in train}
    return sum(t.strip() in seen for t in synthetic) / max(len(synthetic), 1)


def text_metrics(synthetic: list[str], train: list[str], test: list[str]) -> dict:
    return {"copy_rate": copy_rate(synthetic, train), "distinct_2": distinct_n(synthetic, 2),
            "distinct_2_real": distinct_n(test, 2), "unigram_tvd": unigram_tvd(synthetic, test),
            "length_ks": length_ks(synthetic, test),
            "empty_rate": sum(not t.strip() for t in synthetic) / max(len(synthetic), 1)}
