"""The plan line's measured cost: earlier finished runs of the same spec (any seed) in the archive."""
import json
from types import SimpleNamespace

from harness.console import measured_cost
from harness.record import JobSpec, spec_of
from harness.store import SCHEMA, Archive


def spec(seed, lr=1e-3, task_config=None):
    task = {"name": "adult", "version": 1, "config": task_config or {"split": "difflm"}}
    return JobSpec(task, {"name": "difflm", "profile": "cpu", "params": {"lr": lr, "seed": seed}}, seed, 2000)


def archive_with(tmp_path, *entries):
    """Valid records of each (spec, status, seconds); `schema1` ones as older records hold them (no spec)."""
    archive = Archive(tmp_path / "records")
    for s, status, seconds, *schema1 in entries:
        rec = {"schema": SCHEMA, "job_id": s.job_id, "spec": s.to_dict(), "task": s.task, "method": s.method,
               "seed": s.seed, "n_samples": s.n_samples, "status": status,
               "timings_s": {"fit": seconds - 60, "sample": 50, "score": 10, "load": 999}}
        if schema1:
            rec = {**{k: v for k, v in rec.items() if k != "spec"}, "schema": 1}
            rec["job_id"] = spec_of(rec).job_id      # an old record's id: the hash of the spec its fields imply
        path = archive.path("adult", "difflm", s.job_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rec))
    return archive


def job(s):
    return SimpleNamespace(spec=s, desc=s.method, n=s.n_samples)


def test_median_of_finished_runs_of_the_same_spec_any_seed(tmp_path):
    archive = archive_with(tmp_path, (spec(0), "ok", 3000), (spec(1), "ok", 3600), (spec(2), "ok", 4200, "schema1"),
                           (spec(3), "error", 60), (spec(0, lr=5e-4), "ok", 60),
                           (spec(0, task_config={"split": "tabsyn"}), "ok", 60))
    (archive.root / "adult" / "difflm" / "broken.json").write_text("{not json")
    line = measured_cost(job(spec(7)), archive)
    assert line == "; measured on adult: 60 min end to end (median of 3 archived runs, machines vary)"


def test_nothing_said_without_a_matching_run(tmp_path):
    archive = archive_with(tmp_path, (spec(0, lr=5e-4), "ok", 60))
    assert measured_cost(job(spec(0)), archive) == ""
    assert measured_cost(job(spec(0)), Archive(tmp_path / "nowhere")) == ""
