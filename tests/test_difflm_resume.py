"""DiffLM checkpoints: a killed fit or sample resumes where it stopped and ends as an unbroken run would;
a variant that differs only after the VAE (difflm-nodiff) reuses the trained VAE."""
from dataclasses import asdict, replace

import numpy as np
import pandas as pd
import pytest

from harness.api import io   # where DiffLM saves and loads its checkpoints
from harness.api import TableMetadata
from methods.difflm import DiffLMMethod, DiffLMNoDiff
from methods.difflm.config import PROFILES

META = TableMetadata(columns=["age", "job", "y"], numerical=["age"], categorical=["job", "y"], target="y",
                     task_type="binclass", categories={"job": ["clerk", "nurse"], "y": ["no", "yes"]})


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    return pd.DataFrame({"age": rng.integers(18, 90, 24), "job": rng.choice(["clerk", "nurse"], 24),
                         "y": rng.choice(["no", "yes"], 24)})


def config(**kw):
    return asdict(replace(PROFILES["smoke"], epochs=2, beta_patience=10, stop_patience=10, diff_epochs=5, **kw))


class Killed(Exception):
    pass


def test_killed_fit_resumes_to_the_same_history(frame, tmp_path, monkeypatch):
    whole = DiffLMMethod(config=config(diffusion=False), seed=1)
    whole.fit(frame, META, cache_dir=tmp_path / "a")

    real_save, saves = io.torch_save, []
    def save_then_die(path, state):
        real_save(path, state)
        saves.append(path)
        if len(saves) == 1:
            raise Killed                                   # killed right after epoch 1 was written
    monkeypatch.setattr(io, "torch_save", save_then_die)
    broken = DiffLMMethod(config=config(diffusion=False), seed=1)
    with pytest.raises(Killed):
        broken.fit(frame, META, cache_dir=tmp_path / "b")
    monkeypatch.setattr(io, "torch_save", real_save)

    resumed = DiffLMMethod(config=config(diffusion=False), seed=1)
    resumed.fit(frame, META, cache_dir=tmp_path / "b")
    assert [h["epoch"] for h in resumed.history_] == [1, 2]
    assert resumed.history_ == [pytest.approx(h) for h in whole.history_]
    state = io.torch_load(next((tmp_path / "b").rglob("last.pt")))
    assert not any(k.startswith("llm") for k in state["trainable"])     # the frozen LLM is never saved


def test_nodiff_reuses_the_trained_vae(frame, tmp_path, monkeypatch):
    first = DiffLMMethod(config=config(), seed=2)
    first.fit(frame, META, cache_dir=tmp_path)
    calls = []
    monkeypatch.setattr(type(first.vae_), "forward", lambda *a, **k: calls.append(1))
    nodiff = DiffLMNoDiff(config=config(diffusion=False), seed=2)
    nodiff.fit(frame, META, cache_dir=tmp_path)
    assert not calls                                        # no VAE training step ran
    assert nodiff.history_ == first.history_


def test_killed_sampling_resumes_to_the_same_rows(frame, tmp_path, monkeypatch):
    m = DiffLMMethod(config=config(gen_batch_size=8), seed=3).fit(frame, META, work_dir=tmp_path / "whole")
    whole = m.sample(20, seed=5)
    assert (tmp_path / "whole" / "sampling-20-5.json").exists()
    m.work_dir_ = tmp_path / "broken"          # the same fitted model, sampled in another job's folder
    real_generate, calls = m.vae_.generate, []
    def generate_then_die(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise Killed
        return real_generate(*a, **k)
    monkeypatch.setattr(m.vae_, "generate", generate_then_die)
    with pytest.raises(Killed):
        m.sample(20, seed=5)
    monkeypatch.setattr(m.vae_, "generate", real_generate)
    resumed = m.sample(20, seed=5)
    pd.testing.assert_frame_equal(resumed, whole)
