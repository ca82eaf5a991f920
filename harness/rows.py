"""Which spec a stored record belongs to and what its leaderboard row is called.

A record is *current* when today's code resolves the same params for its method, profile and `--set` overrides on
today's version of its task; its row name says the method, profile, overrides that differ from the profile,
non-default task options, the number of synthetic rows when it is not n_train, and the device off the CPU.
Used by the leaderboard pages and by `grid` (which archived jobs are done).
"""
from __future__ import annotations

import json
from collections import defaultdict


def task_class(name: str):
    """The registered task class for a record's task name, or None (a task no longer installed)."""
    from tasks import TASKS

    return TASKS.get(name) if name in TASKS.names() else None


def family_of(rec: dict) -> str:
    cls = task_class(rec["task"]["name"])
    return rec["task"].get("family") or (cls.family if cls is not None and cls.family else rec["task"]["name"])


def make_label(method: str, profile: str, task_config: dict | None = None, n_synthetic: int | None = None,
               overrides: dict | None = None, label_defaults: dict | None = None) -> str:
    """Row name: method, profile, params set on the command line (--set), any task option that differs
    from the task's default protocol, and the number of synthetic rows when it is not n_train (LLM decoders
    on the cpu profile sample fewer)."""
    cfg, defaults = task_config or {}, label_defaults or {}
    bits = [f"{profile} profile"] + [f"{k}={v}" for k, v in sorted((overrides or {}).items())]
    bits += [f"{k}={v}" for k, v in sorted(cfg.items()) if k in defaults and v != defaults[k]]
    if n_synthetic is not None:
        bits.append(f"n_syn={n_synthetic:,}")
    return f"{method} ({', '.join(bits)})"


def row_label(rec: dict) -> str:
    n, n_train = rec.get("n_samples"), rec["task"].get("n_train")
    n = n if n and n_train and n != n_train else None
    cls = task_class(rec["task"]["name"])
    return make_label(rec["method"]["name"], rec["method"]["profile"], rec["task"].get("config"), n,
                      rec["method"].get("overrides"), getattr(cls, "label_defaults", {}))


def as_shown(rec: dict) -> dict:
    """The record as the pages show it: `--set` values that the profile itself says today are dropped, so a
    `--set k=16` run made before the profile adopted k 16 shares a row (and the ablation table) with the profile's
    seeds — their params are equal; `labels` still names any param that differs. The stored record is unchanged."""
    kept = effective_overrides(rec)
    if kept == (rec["method"].get("overrides") or {}):
        return rec
    method = {k: v for k, v in rec["method"].items() if k != "overrides"} | ({"overrides": kept} if kept else {})
    return {**rec, "method": method}


def effective_overrides(rec: dict) -> dict:
    """The user's --set values that differ from what the record's profile says today."""
    from methods import METHODS

    user, name = rec["method"].get("overrides") or {}, rec["method"]["name"]
    if not user or name not in METHODS.names():
        return user
    cls = METHODS.get(name)
    try:
        profile = _flat(_normal(cls.from_profile(rec["method"]["profile"]).get_params()))
    except (TypeError, ValueError, KeyError):
        return user
    return {k: v for k, v in user.items() if k not in profile or _normal(v) != profile[k]}


def _flat_params(rec: dict) -> dict:
    """A record's method params without the seed; nested dicts (a config object) are flattened one level."""
    return _flat(rec["method"].get("params", {}))


def _normal(x):
    return json.loads(json.dumps(x, sort_keys=True, default=str))      # tuples as lists, as a record holds them


def is_current(rec: dict) -> bool:
    """A record is current when its job is what today's code resolves for its method, profile and overrides
    (the same params) on today's version of its task; anything else is history."""
    task = task_class(rec["task"]["name"])      # None: a task no longer installed, judged by its method alone
    if task is not None and rec["task"].get("version") != task.version:
        return False
    return stale_params(rec) == {}


def stale_params(rec: dict) -> dict | None:
    """{param: the record's value} for each param where it differs from what today's code resolves for its
    method, profile and overrides ("unset": the record predates the param and ran otherwise than its
    `params_before` value); None when today's code cannot resolve the spec (method or profile gone)."""
    from methods import METHODS

    name, profile = rec["method"]["name"], rec["method"]["profile"]
    cls = METHODS.get(name) if name in METHODS.names() else None
    if cls is None or profile not in cls.profiles:
        return None
    try:
        params = cls.from_profile(profile, **rec["method"].get("overrides", {})).get_params()
    except (TypeError, ValueError):
        return None
    now, then = _flat(_normal(params)), _flat_params(rec)
    before = _normal({**cls.param_defaults(), **cls.params_before})   # what a record without a param ran with
    gone = {k: then[k] for k in set(then) - set(now)}
    return gone | {k: then.get(k, "unset") for k, v in now.items()
                   if (then[k] != v if k in then else v != before.get(k, object()))}


def _flat(params: dict) -> dict:
    """Params without the seed, a nested config dict flattened one level (as DiffLM keeps its settings)."""
    out = {}
    for k, v in params.items():
        if k != "seed":
            out.update(v if isinstance(v, dict) else {k: v})
    return out


def device_note(recs: list[dict]) -> str:
    """', on cuda' when a row ran off the CPU; a row whose seeds ran on different devices says so."""
    devices = sorted({r.get("env", {}).get("device") or "unknown" for r in recs})
    if len(devices) > 1:
        return f", mixed devices: {'/'.join(devices)}"
    return "" if devices[0] in ("cpu", "unknown") else f", on {devices[0]}"


def labels(records, history: bool = False) -> dict:
    """job_id -> row name: method, profile, the user's overrides, non-default task options and the device. Runs
    that share a name but not their params (a profile was resized between them; only on history pages, since
    current runs of one name share their spec) must not be averaged as seeds of one row: each such name gets the
    params that differ. On a history page a name also gets the params where a run differs from today's spec, so
    no old row reads like a current one."""
    base = {r["job_id"]: row_label(r) for r in records}
    groups, task_of = defaultdict(list), {r["job_id"]: r["task"]["name"] for r in records}
    for r in records:
        groups[(r["task"]["name"], base[r["job_id"]])].append(r)
    base = {jid: name[:-1] + device_note(groups[(task_of[jid], name)]) + ")" for jid, name in base.items()}
    by_name = defaultdict(dict)
    for r in records:
        by_name[base[r["job_id"]]][r["job_id"]] = _flat_params(r)
    stale = {r["job_id"]: stale_params(r) or {} for r in records} if history else {}
    out = dict(base)
    for name, flats in by_name.items():
        differ = {k for f in flats.values() for k in f
                  if len({json.dumps(g.get(k), sort_keys=True) for g in flats.values()}) > 1}
        differ = sorted(differ.union(*(stale.get(jid, {}) for jid in flats)))
        if differ:
            for jid, f in flats.items():
                out[jid] = name[:-1] + ", " + ", ".join(f"{k}={f[k] if k in f else 'unset'}" for k in differ) + ")"
    return out
