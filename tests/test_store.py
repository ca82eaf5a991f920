import json

import pytest

from harness.leaderboard import build_page
from harness.record import JobSpec
from harness.store import SCHEMA, Store, load_record


def fake(task, method, seed, mle, rho, profile="cpu", params=None):
    params = {} if params is None else params
    spec = JobSpec({"name": task, "version": 1, "config": {"split": "difflm"}},
                   {"name": method, "profile": profile, "params": params}, seed, None)
    return {"schema": SCHEMA, "job_id": spec.job_id, "spec": spec.to_dict(),
            "task": {"name": task, "version": 1, "config": {"split": "difflm"}},
            "method": {"name": method, "profile": profile, "params": params}, "seed": seed, "status": "ok",
            "command": "python -m harness run", "metrics": {
                "mle": mle, "rho": rho, "dcr_share_closer_to_train": 0.6, "dcr_share_ideal": 0.64,
                "dcr_exact_copy_rate": 0.0, "dcr_median": 0.1, "dcr_real_test_median": 0.1},
            "higher_is_better": {"mle": True, "rho": False}, "timings_s": {"fit": 1, "sample": 1, "score": 1}}


def build_tabular(recs):
    return build_page("tabular", recs)


def test_atomic_write_and_read(tmp_path):
    s = Store(tmp_path)
    rec = fake("adult", "real", 0, 0.9, 1.0)
    path = s.write(rec)
    assert load_record(path) == json.loads(path.read_text())
    assert not list(path.parent.glob(".tmp-*"))
    assert s.find(rec["job_id"])["seed"] == 0


def test_bad_record_is_rejected(tmp_path):
    p = tmp_path / "r.json"
    p.write_text("{}")
    with pytest.raises(ValueError):
        load_record(p)


def test_leaderboard_mean_std_and_paper_rows():
    recs = [fake("adult", "tvae", s, v, 10.0 + s) for s, v in enumerate([0.80, 0.82, 0.84])]
    text = build_tabular(recs)
    assert "| ours: tvae (cpu profile) | 0.820 ± 0.020 | 11.00 ± 1.00 |" in text
    assert "| tvae (cpu profile) | 3/3 | 0.820 ± 0.020 | 11.00 ± 1.00 |" in text     # the generic table
    assert "| paper: TVAE | 0.878 | 14.22 |" in text
    assert build_tabular(recs) == text        # byte-identical on an unchanged store


def test_runs_with_different_params_are_not_averaged_as_seeds():
    old = fake("adult", "tabsyn", 0, 0.90, 2.2)
    new = [fake("adult", "tabsyn", s, 0.91, 1.0) for s in (0, 1)]
    old["method"]["params"] = {"batch_size": 4096, "lr": 1e-3, "seed": 0}
    for r in new:
        r["job_id"] += "new"
        r["method"]["params"] = {"batch_size": 1024, "lr": 1e-3, "seed": r["seed"]}
    text = build_tabular([old, *new])
    assert "| ours: tabsyn (cpu profile, batch_size=4096) | 0.900 | 2.20 |" in text
    assert "| ours: tabsyn (cpu profile, batch_size=1024) | 0.910 ± 0.000 | 1.00 ± 0.00 |" in text
    same = build_tabular(new)                  # one param set: the plain name
    assert "| ours: tabsyn (cpu profile) | 0.910 ± 0.000 |" in same
    new[0]["method"]["params"]["ema_decay"] = 0.999     # a param the older runs did not have yet
    text = build_tabular([old, new[0]])
    assert "| ours: tabsyn (cpu profile, batch_size=4096, ema_decay=unset) | 0.900 |" in text
    assert "| ours: tabsyn (cpu profile, batch_size=1024, ema_decay=0.999) | 0.910 |" in text


def test_rows_against_paper_give_the_gap_and_the_note(tmp_path, monkeypatch):
    import harness.leaderboard as lb
    notes = tmp_path / "notes.csv"
    notes.write_text('method,task,why\ntvae,*,"Because of the split."\n')
    read = lb.method_notes
    monkeypatch.setattr(lb, "method_notes", lambda: read(notes))
    recs = [fake("adult", "tvae", s, v, 12.0) for s, v in enumerate([0.86, 0.88])] + [fake("magic", "mine", 0, 0.5, 1.0)]
    text = build_tabular(recs)
    assert "- **tvae (cpu profile)**, adult, 2 seeds: MLE 0.870 vs 0.878 (-0.008); ρ 12.00 vs 14.22 (-2.22). " \
           "Because of the split." in text
    assert "**mine" not in text                # no paper row, no line


def test_llm_rows_show_n_syn_decoding_cost_and_loss_curves(tmp_path):
    from harness.leaderboard import write_all
    pytest.importorskip("matplotlib")
    from methods import METHODS
    store = Store(tmp_path / "runs")
    current = METHODS.get("difflm").from_profile("cpu").get_params()     # today's spec: the current page
    rec = fake("adult", "difflm", 0, 0.85, 5.0, params=json.loads(json.dumps(current)))
    rec["task"]["n_train"], rec["n_samples"] = 29304, 2000
    rec["method"]["extra"] = {"sampling": {"decoding": "free", "llm": "smollm2", "valid_rate": 0.9, "valid_rows_per_s": 1.5},
                              "vae_history": [{"epoch": e, "train_rec": 1 / e, "val_rec": 1.1 / e, "train_kl": 0.1,
                                               "beta": 0.1 * 0.7 ** e} for e in (1, 2, 3)]}
    store.write(rec)
    out = tmp_path / "boards"
    written = write_all(store, out_dir=out)
    text = (out / "tabular.md").read_text()
    assert "| ours: difflm (cpu profile, n_syn=2,000) | 0.850 |" in text
    assert "| difflm (cpu profile, n_syn=2,000) | adult | 1 | smollm2 | free | 0.900 | 1.50 | 2,000 |" in text
    pngs = [p for p in written if p.suffix == ".png"]
    assert len(pngs) == 1 and pngs[0].stat().st_size > 1000 and f"(figures/{pngs[0].name})" in text


def test_a_training_curve_is_redrawn_only_when_its_inputs_change(tmp_path):
    pytest.importorskip("matplotlib")
    from tasks.reports.figures import draw_training_curves, drawn_from
    rec = fake("adult", "difflm", 0, 0.85, 5.0)
    rec["method"]["extra"] = {"vae_history": [{"epoch": e, "train_rec": 1 / e, "val_rec": 1.1 / e, "train_kl": 0.1,
                                               "beta": 0.1} for e in (1, 2)]}
    [(_, path)] = draw_training_curves([rec], tmp_path)
    key, stamp = drawn_from(path), path.stat().st_mtime_ns
    assert key and draw_training_curves([rec], tmp_path)[0][1] == path and path.stat().st_mtime_ns == stamp
    rec["method"]["extra"]["vae_history"][1]["val_rec"] = 0.3
    draw_training_curves([rec], tmp_path)
    assert drawn_from(path) not in (None, key)
    path.write_bytes(b"not a png")                     # a damaged file is redrawn, not trusted
    draw_training_curves([rec], tmp_path)
    assert drawn_from(path) not in (None, key)


def test_failed_jobs_are_counted_and_named():
    recs = [fake("adult", "tvae", s, 0.8, 10.0) for s in (0, 1)]
    bad = fake("adult", "tvae", 2, None, None)
    bad.update(status="error", metrics={}, error={"type": "RuntimeError", "message": "boom"})
    text = build_tabular([*recs, bad])
    assert "| tvae (cpu profile) | 2/3 (failed: RuntimeError) | 0.800 ± 0.000 | 10.00 ± 0.00 |" in text


def test_archive_keeps_user_data_and_smoke_out_unless_asked(tmp_path):
    from harness.leaderboard import write_all
    store = Store(tmp_path / "runs")
    store.write(fake("adult", "smote", 0, 0.9, 1.0))
    private = fake("csv", "smote", 0, 0.7, 2.0)
    private["task"]["user_data"] = True
    store.write(private)
    store.write(fake("adult", "real", 0, 0.9, 0.0, profile="smoke"))
    out = tmp_path / "boards"
    write_all(store, out_dir=out)
    assert [p.parent.name for p in (out / "records").glob("*/*/*.json")] == ["smote"]
    assert not (out / "records" / "csv").exists()
    write_all(store, out_dir=out, include_user_data=True, include_smoke=True)
    assert len(list((out / "records").glob("*/*/*.json"))) == 3


def test_unregistered_task_gets_a_generic_page():
    from harness.leaderboard import build_pages
    rec = fake("mycorpus", "real", 0, None, None)
    rec["metrics"], rec["higher_is_better"] = {"copy_rate": 1.0, "distinct_2": 0.5}, {"copy_rate": False, "distinct_2": True}
    pages = build_pages([rec])
    assert list(pages) == ["mycorpus"]
    assert "| real (cpu profile) | 1/1 | 1.000 | 0.500 |" in pages["mycorpus"]
    assert "copy_rate ↓ | distinct_2 ↑" in pages["mycorpus"]


def test_reconstruction_check_is_shown():
    rec = fake("adult", "difflm", 0, 0.85, 5.0)
    rec["method"]["extra"] = {"reconstruction": {"rows": 200, "valid_rate": 1.0, "column_accuracy": 0.75,
                                                 "row_exact_rate": 0.1, "columns": {"age": {"exact": 0.5},
                                                                                    "sex": {"exact": 1.0}}}}
    text = build_tabular([rec])
    assert "| difflm (cpu profile) | adult | 1 | 200 | 1.000 | 0.750 | — | 0.100 | — | — | — | — | age 0.50, sex 1.00 |" in text
    rec["method"]["extra"]["reconstruction"].update(mode_baseline=0.5, distinct_decodes=0.25)
    rec["method"]["extra"]["latent"] = {"active_units": 0, "d_z": 64, "usage_gap": 0.0, "collapsed": True,
                                        "mode_baseline": 0.5, "distinct_decodes": 0.25}
    text = build_tabular([rec])
    assert "| difflm (cpu profile) | adult | 1 | 200 | 1.000 | 0.750 | 0.500 | 0.100 | 0.25 | 0/64 | 0.000 | yes |" in text
    assert "| ours: difflm (cpu profile) ⚠ latent collapsed (1/1 seeds) | 0.850 |" in text


def test_learning_curve_from_runs_at_several_budgets(tmp_path):
    pytest.importorskip("matplotlib")
    from harness.leaderboard import build_page
    recs = []
    for steps, mle in ((100, 0.7), (200, 0.8), (350, 0.85)):
        r = fake("adult", "difflm", 0, mle, 20.0 - steps / 50)
        r["job_id"] += str(steps)
        r["method"]["params"] = {"config": {"max_steps": steps, "lr": 5e-4}, "seed": 0}
        recs.append(r)
    text = build_page("tabular", recs, tmp_path)
    assert "## Learning curves" in text and "(figures/adult-difflm-cpu-learning-curve.png)" in text
    assert (tmp_path / "figures" / "adult-difflm-cpu-learning-curve.png").stat().st_size > 1000
    assert "| 100 | 0 | 0.700 | 18.00 | – |" in text and "| 350 | 0 | 0.850 | 13.00 | – |" in text
    assert "budgets): MLE +0.084, ρ -2.74." in text


def test_learning_curve_joins_runs_before_and_after_the_position_budget():
    """A run that predates max_train_positions and runs under it at other step counts are one curve; its
    x is the steps the VAE ran (vae_steps), not the configured cap."""
    from tasks.reports.curves import _budget
    old = fake("adult", "difflm", 0, 0.7, 12.0)
    old["method"]["params"] = {"config": {"max_steps": 350, "lr": 5e-4}, "seed": 0}
    new = fake("adult", "difflm", 0, 0.6, 14.0)
    new["method"]["params"] = {"config": {"max_steps": 175, "max_train_positions": 500_000, "lr": 5e-4}, "seed": 0}
    new["method"]["extra"] = {"vae_steps": 175}
    capped = fake("tools", "difflm", 0, 0.6, 14.0)
    capped["method"]["params"] = {"config": {"max_steps": 350, "max_train_positions": 500_000, "lr": 5e-4}}
    capped["method"]["extra"] = {"vae_steps": 121}
    assert _budget(old)[1] == _budget(new)[1]
    assert (_budget(old)[0], _budget(new)[0], _budget(capped)[0]) == (350, 175, 121)
    later = fake("adult", "difflm", 0, 0.4, 28.0)      # a config field added since, at its default None
    later["method"]["params"] = {"config": {"max_steps": 88, "lr": 5e-4, "cycle_beta_max": None}, "seed": 0}
    assert _budget(later)[1] == _budget(old)[1]
    later["method"]["params"]["config"]["cycle_beta_max"] = 0.04
    assert _budget(later)[1] != _budget(old)[1]


def test_ablation_table_keeps_current_profile_runs_only():
    recon = {"reconstruction": {"rows": 8, "column_accuracy": 0.5}}
    main = fake("adult", "difflm", 0, 0.74, 12.0)
    main["method"]["extra"] = recon
    memory = fake("adult", "difflm-memory", 0, 0.6, 20.0)
    memory["method"]["extra"] = recon
    curve = fake("adult", "difflm", 1, 0.70, 13.0)                       # a learning-curve point
    curve["method"].update(extra=recon, overrides={"max_steps": 175}, profile="cpu")
    old = fake("adult", "difflm-nodiff", 0, 0.5, 64.0)                    # an earlier budget, no recon check
    text = build_tabular([main, memory, curve, old])
    table = text[text.index("## DiffLM ablations"):]
    table = table[:table.index("\n## ")] if "\n## " in table else table
    assert "| ours: difflm (cpu profile) | 1 | 0.740 |" in table and "| ours: difflm-memory (cpu profile) |" in table
    assert "difflm-nodiff" not in table.replace("paper: difflm-nodiff", "") and "2 other rows" in table


def test_the_store_refuses_to_write_an_invalid_record(tmp_path):
    rec = fake("adult", "real", 0, 0.9, 1.0)
    for broken in ({**rec, "status": "done"}, {**rec, "job_id": "0" * 12}, {k: v for k, v in rec.items() if k != "spec"},
                   {**rec, "seed": "0"}):
        with pytest.raises(ValueError, match="invalid record"):
            Store(tmp_path).write(broken)


def test_archived_schema_1_records_read_as_specs_whose_hash_is_their_id():
    from harness.record import spec_of
    from harness.store import Archive
    recs = Archive().records()
    assert recs and all(r["schema"] == SCHEMA and spec_of(r).job_id == r["job_id"] for r in recs)


def test_a_record_older_than_a_param_counts_as_the_value_it_ran_with():
    """A record without a param ran as the code behaved before the param existed: its default, unless the method
    says otherwise in params_before (bayesnet's numeric_bins: records before binning kept every value a state)."""
    from harness.rows import is_current
    from methods import METHODS
    from tasks import TASKS

    version = TASKS.get("adult").version
    bayes = METHODS.get("bayesnet")
    today = json.loads(json.dumps(bayes.from_profile("cpu").get_params()))
    for params, current in (({k: v for k, v in today.items() if k != "numeric_bins"}, False), (today, True)):
        rec = fake("adult", "bayesnet", 0, 0.8, 2.0, params=params)
        rec["task"]["version"] = version
        assert is_current(rec) is current
    tvae = METHODS.get("tvae")        # no params_before: a missing param counts as its default
    params = json.loads(json.dumps(tvae.from_profile("cpu").get_params()))     # as a stored record holds it
    rec = fake("adult", "tvae", 0, 0.8, 2.0, params={k: v for k, v in params.items() if k != sorted(params)[0]})
    rec["task"]["version"] = version
    assert not tvae.params_before and is_current(rec)


def test_a_history_row_names_the_params_where_it_differs_from_today():
    from harness.rows import labels
    from methods import METHODS

    params = json.loads(json.dumps(METHODS.get("bayesnet").from_profile("cpu").get_params()))
    old = fake("adult", "bayesnet", 0, 0.9, 9.0, params={k: v for k, v in params.items() if k != "numeric_bins"})
    assert labels([old])[old["job_id"]] == "bayesnet (cpu profile)"
    assert labels([old], history=True)[old["job_id"]] == "bayesnet (cpu profile, numeric_bins=unset)"
