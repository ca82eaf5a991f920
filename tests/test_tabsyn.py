"""TabSyn plugin: the fit/sample contract on the tiny table, seeding, the EDM loss and the β schedule."""
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from harness.api import TableMetadata
from methods.tabsyn import TabSynMethod
from methods.tabsyn import diffusion
from methods.edm import karras_sigmas
from methods.tabsyn.diffusion import TABSYN_EDM, EDMDenoiser, edm_loss, train_edm
from methods.tabsyn.vae import BetaSchedule


@pytest.fixture(autouse=True)
def one_thread():
    """These models are tiny: a second thread only adds spin-waiting on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def smoke(seed=0, **kw):
    return TabSynMethod.from_profile("smoke", seed=seed, **kw)


def test_fit_sample_shape_columns_categories(tiny):
    df, meta = tiny
    m = smoke().fit(df, meta)
    out = m.sample(40, seed=3)
    assert out.shape == (40, len(meta.columns)) and list(out.columns) == meta.columns
    for c in meta.categorical:
        assert set(out[c]) <= set(meta.categories[c]), c
    for c in meta.numerical:
        assert pd.to_numeric(out[c], errors="coerce").notna().all(), c
        assert df[c].min() <= out[c].min() and out[c].max() <= df[c].max()   # inverse quantile stays in range
    rec = m.extra_record()
    json.dumps(rec)
    assert rec["latent_dim"] == 4 * len(meta.columns) and rec["val_rows"] == 6 and rec["train_rows"] == 54
    assert rec["vae"]["epochs_run"] == 4 and rec["diffusion"]["epochs_run"] <= 4
    assert rec["vae"]["beta_trajectory"][0] == [0, 0.01]
    assert m.sample(0, seed=0).shape == (0, len(meta.columns))


def test_seeds_and_global_rng(tiny):
    df, meta = tiny
    state = torch.get_rng_state()
    m = smoke(seed=0).fit(df, meta)
    a, b, c = m.sample(30, seed=1), m.sample(30, seed=1), m.sample(30, seed=2)
    assert torch.equal(state, torch.get_rng_state()), "fit/sample must not touch the global torch RNG"
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    pd.testing.assert_frame_equal(a, smoke(seed=0).fit(df, meta).sample(30, seed=1))   # fit is seeded too
    assert not a.equals(smoke(seed=1).fit(df, meta).sample(30, seed=1))


@pytest.mark.parametrize("stage, module, fn, kill_at", [
    ("vae", "methods.tabsyn.vae", "vae_losses", 7),         # 3 calls an epoch (2 batches + validation): epoch 2
    ("diffusion", "methods.tabsyn.diffusion", "edm_loss", 5),   # 2 calls an epoch: epoch 2
])
def test_a_killed_fit_resumes_to_the_same_model(tiny, tmp_path, monkeypatch, stage, module, fn, kill_at):
    import importlib

    from harness.api import io
    df, meta = tiny
    monkeypatch.setattr(io, "SAVE_EVERY_S", 0.0)               # save after every epoch
    mod = importlib.import_module(module)
    real, calls = getattr(mod, fn), {"n": 0}

    def dies(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == kill_at:
            raise KeyboardInterrupt("killed")
        return real(*args, **kwargs)

    killed = smoke()
    monkeypatch.setattr(mod, fn, dies)
    with pytest.raises(KeyboardInterrupt):
        killed.fit(df, meta, work_dir=tmp_path)
    monkeypatch.setattr(mod, fn, real)
    resumed = smoke()
    resumed.fit(df, meta, work_dir=tmp_path)
    assert resumed.extra_record()[stage]["resumed_at"] == [2]
    pd.testing.assert_frame_equal(resumed.sample(30, seed=1), smoke().fit(df, meta).sample(30, seed=1))
    again = smoke()                                             # both loops finished: nothing is retrained
    again.fit(df, meta, work_dir=tmp_path)
    rec = again.extra_record()                                  # every resume is listed: [2, 4] after a kill
    assert rec["vae"]["resumed_at"][-1] == 4 and rec["diffusion"]["resumed_at"] and rec[stage]["resumed_at"][0] == 2
    pd.testing.assert_frame_equal(again.sample(30, seed=1), resumed.sample(30, seed=1))


def test_regression_table_with_missing_values():
    rng = np.random.default_rng(1)
    n = 50
    df = pd.DataFrame({"a": rng.normal(size=n), "c": rng.choice(["u", "v"], n), "t": rng.gamma(2.0, size=n)})
    df.loc[[0, 5], "a"] = np.nan
    df.loc[[1, 7], "c"] = np.nan
    meta = TableMetadata(columns=["a", "c", "t"], numerical=["a", "t"], categorical=["c"], target="t",
                         task_type="regression", categories={"c": ["u", "v"]})
    out = smoke().fit(df, meta).sample(20, seed=0)
    assert list(out.columns) == meta.columns and out[["a", "t"]].notna().all().all()
    assert set(out["c"]) <= {"u", "v"}


def test_missing_column_raises(tiny):
    df, meta = tiny
    with pytest.raises(ValueError, match="colour"):
        smoke().fit(df.drop(columns=["colour"]), meta)


def test_edm_loss_falls_on_toy_mixture():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [1.0, -1.0]]) * 0.5
    data = centres[torch.randint(0, 3, (2048,), generator=g)] + 0.05 * torch.randn(2048, 2, generator=g)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = EDMDenoiser(2, dim_t=32)

    def held_out_loss():            # same σ and noise draws before and after training
        with torch.no_grad():
            return edm_loss(net, data, torch.Generator().manual_seed(123)).item()

    before = held_out_loss()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(400):
        idx = torch.randint(0, len(data), (256,), generator=g)
        loss = edm_loss(net, data[idx], g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = held_out_loss()
    assert after < 0.75 * before, (before, after)   # ≈ 0.99 -> 0.58; the optimum is not 0
    x = net.eval().sample(64, 2, steps=10, generator=torch.Generator().manual_seed(0), device="cpu")
    assert x.shape == (64, 2) and torch.isfinite(x).all()


def _train_toy_edm(**guards):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(256, 2, generator=g) * 0.5
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = EDMDenoiser(2, dim_t=16)
    hist = train_edm(net, z, epochs=6, batch_size=64, lr=1e-3, patience=100, generator=torch.Generator().manual_seed(1),
                     perm_generator=torch.Generator().manual_seed(2), **guards)
    return net, hist


def test_train_edm_rolls_back_a_loss_spike(monkeypatch):
    real, calls = diffusion.edm_loss, {"n": 0}

    def spiky(net, x, generator):        # 4 batches an epoch: the third epoch's loss is 100x
        calls["n"] += 1
        return real(net, x, generator) * (100 if 9 <= calls["n"] <= 12 else 1)

    monkeypatch.setattr(diffusion, "edm_loss", spiky)
    _, hist = _train_toy_edm(spike_factor=2.0)
    assert [r[0] for r in hist["rollbacks"]] == [2]
    assert hist["lr"][3] == pytest.approx(hist["lr"][2] / 2)          # halved after the rollback
    assert hist["loss"][3] < 2 * min(hist["loss"][:2])                 # training went on from the best weights
    monkeypatch.setattr(diffusion, "edm_loss", real)
    _, off = _train_toy_edm()                                          # guard off (the original): no rollback
    assert off["rollbacks"] == []


def test_train_edm_samples_the_ema_weights():
    raw, _ = _train_toy_edm()
    ema, hist = _train_toy_edm(ema_decay=0.9)
    assert hist["rollbacks"] == []
    same_run = all(torch.equal(a, b) for a, b in zip(raw.state_dict().values(), ema.state_dict().values()))
    assert not same_run and all(torch.isfinite(p).all() for p in ema.parameters())


def test_sigma_steps():
    t = karras_sigmas(50, TABSYN_EDM)
    assert len(t) == 51 and t[-1] == 0
    assert math.isclose(t[0].item(), 80.0, rel_tol=1e-5) and math.isclose(t[-2].item(), 0.002, rel_tol=1e-4)
    assert (t[:-1] > t[1:]).all()


def test_beta_schedule_decays_once_per_plateau_with_floor():
    s = BetaSchedule(max_beta=1e-2, min_beta=1e-5, lambd=0.7, patience=10)
    assert s.step(1.0) and s.beta == 1e-2
    for _ in range(9):
        assert not s.step(1.0)
    assert s.beta == 1e-2                          # 9 epochs without improvement: unchanged
    s.step(1.0)
    assert math.isclose(s.beta, 7e-3)              # the 10th: ×0.7
    for _ in range(25):
        s.step(2.0)
    assert math.isclose(s.beta, 7e-3)              # once per plateau, as in the original
    loss, betas = 0.5, []
    for _ in range(40):                            # 40 plateaus: 0.01·0.7^40 would be ~6e-9
        loss -= 1e-3
        assert s.step(loss)
        for _ in range(10):
            s.step(loss)
        betas.append(s.beta)
    assert min(betas) == 1e-5 and all(b >= 1e-5 for b in betas)
    assert all(b2 <= b1 for b1, b2 in zip(betas, betas[1:]))
