"""Deterministic proxy metrics for tool records: they measure form and diversity, not usefulness or correctness,
are easy to game, and are not comparable with the paper's judge results (Figure 2, Table 3) — hence their own
names (docs/spec/code_and_tool_protocol.md §5.2).

- valid_rate: a dict with the five keys (the paper's rule); well_formed_rate: also parameters shaped as
  ToolBench's (properties of {type, description, default}, required ⊆ properties);
- exact_dup_train / near_dup_train: share of records equal to a training record / with MiniLM cosine ≥ 0.95 to
  one; dup_within: share repeating an earlier synthetic record;
- distinct_2 of API descriptions, distinct_api_names;
- emb_centroid_dist (1 − cosine of the mean MiniLM embeddings, synthetic vs real test) and emb_nn_sim_test (mean
  cosine of each record to its nearest real test record);
- tool_proxy_score: the share of rubric checks a record passes (non-empty, bounded descriptions; an api_name
  that is not a bare path or generic word; parameter types known and descriptions present; required ⊆
  properties; words shared between names and descriptions).
"""
from __future__ import annotations

import functools
import json
import re

import numpy as np
import torch

from tasks.tools.records import KEYS

NEAR_DUP = 0.95
GENERIC_NAMES = {"get", "post", "api", "test", "endpoint", "search", "list", "data", "default", "info"}
_WORD = re.compile(r"[a-z]+")


def canonical(record) -> str:
    return json.dumps(record, sort_keys=True, ensure_ascii=False)


def is_valid(r) -> bool:
    return isinstance(r, dict) and all(k in r for k in KEYS)


def is_well_formed(r) -> bool:
    if not is_valid(r) or not all(isinstance(r[k], str) for k in KEYS[:4]):
        return False
    p = r["parameters"]
    if not (isinstance(p, dict) and isinstance(p.get("properties"), dict) and isinstance(p.get("required"), list)):
        return False
    params = p["properties"].values()
    return all(isinstance(v, dict) and {"type", "description", "default"} <= set(v) for v in params) \
        and set(p["required"]) <= set(p["properties"])


def rubric(r: dict, known_types: set[str]) -> float:
    """Share of form checks passed (0–1)."""
    params = list(r["parameters"]["properties"].values())
    name = r["api_name"].strip().lower()
    words = lambda s: set(_WORD.findall(s.lower()))
    checks = [0 < len(r["api_description"]) <= 1000, len(r["tool_name"]) > 0, len(r["tool_description"]) > 0,
              bool(name) and not name.startswith("/") and name not in GENERIC_NAMES,
              all(v.get("type") in known_types for v in params), all(str(v.get("description", "")).strip() for v in params),
              set(r["parameters"]["required"]) <= set(r["parameters"]["properties"]),
              bool(words(r["api_name"] + " " + r["tool_name"]) & words(r["api_description"] + " " + r["tool_description"]))]
    return sum(checks) / len(checks)


def distinct_n(texts: list[str], n: int = 2) -> float:
    grams = [tuple(t.split()[i:i + n]) for t in texts for i in range(len(t.split()) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


@functools.lru_cache(maxsize=1)
def _minilm():
    """Loaded once per process: a tools run embeds synthetic, train and test records, and again for categories."""
    from transformers import AutoModel, AutoTokenizer

    from harness.api.models import minilm_dir

    return AutoTokenizer.from_pretrained(minilm_dir()), AutoModel.from_pretrained(minilm_dir()).eval()


@torch.no_grad()
def embed(texts: list[str], batch_size: int = 64) -> np.ndarray:
    """L2-normalised mean-pooled MiniLM-L6 embeddings (the packaged all-MiniLM-L6-v2)."""
    tok, model = _minilm()
    out = []
    for i in range(0, len(texts), batch_size):
        enc = tok(texts[i:i + batch_size], padding=True, truncation=True, max_length=256, return_tensors="pt")
        hidden = model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).float()
        out.append(torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy())
    return np.concatenate(out) if out else np.zeros((0, model.config.hidden_size), dtype=np.float32)


def proxy_metrics(synthetic: list, train: list[dict], test: list[dict]) -> dict:
    n = len(synthetic)
    valid = [r for r in synthetic if is_well_formed(r)]
    out = {"n_synthetic": n, "valid_rate": sum(map(is_valid, synthetic)) / n if n else 0.0,
           "well_formed_rate": len(valid) / n if n else 0.0}
    if not valid:
        return out
    train_keys = {canonical(r) for r in train}
    keys = [canonical(r) for r in valid]
    known_types = {p["type"] for r in train for p in r["parameters"]["properties"].values()}
    out.update(exact_dup_train=sum(k in train_keys for k in keys) / len(valid),
               dup_within=1 - len(set(keys)) / len(keys),
               distinct_2=distinct_n([r["api_description"] for r in valid]),
               distinct_api_names=len({r["api_name"] for r in valid}) / len(valid),
               tool_proxy_score=float(np.mean([rubric(r, known_types) for r in valid])))
    syn_e = embed([json.dumps(r, ensure_ascii=False) for r in valid])
    train_e = embed([json.dumps(r, ensure_ascii=False) for r in train])
    test_e = embed([json.dumps(r, ensure_ascii=False) for r in test])
    out["near_dup_train"] = float(((syn_e @ train_e.T).max(axis=1) >= NEAR_DUP).mean())
    out["emb_nn_sim_test"] = float((syn_e @ test_e.T).max(axis=1).mean())
    a, b = syn_e.mean(0), test_e.mean(0)
    out["emb_centroid_dist"] = float(1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    return out
