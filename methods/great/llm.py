"""The LLM side of the `great` wrapper: which checkpoint be-great loads, and what `GReaT.fit` offers no
hook for.

- be-great's trainer progress bar (chugchug) and HF's log printer ignore TQDM_DISABLE; with it set
  we swap in a disabled bar / drop the printer for the duration of `fit` (a patch of two names in
  `be_great.great`, restored afterwards; the same patch adds timed checkpoints when a work_dir is set).
- `GReaT(llm)` calls `from_pretrained(llm)` without `gguf_file`, so it cannot read the packaged SmolLM2
  GGUF: we give it the dequantised float32 copy (`methods.backbones.smollm2_dir()`), and the random
  tiny Llama is saved once to a folder. be-great 0.0.14 itself runs on transformers 5.x as is.
"""
from __future__ import annotations

import contextlib
import functools
import shutil
import tempfile
from pathlib import Path

import torch

from harness.api.io import Interval


def tiny_llama_dir() -> Path:
    """A random-init tiny Llama (methods.backbones' smoke decoder) saved once with its tokenizer,
    so that be-great can `from_pretrained` it like any other checkpoint."""
    from methods.backbones import load_decoder, model_cache

    out = model_cache() / "tiny-llama-random-init"
    if (out / "config.json").exists():
        return out
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model, tok = load_decoder("tiny-llama")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=out.parent))
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    try:
        tmp.rename(out)
    except OSError:          # another process made it first
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def resolve_llm(llm: str) -> str:
    if llm == "smollm2":
        from methods.backbones import smollm2_dir
        return str(smollm2_dir())
    if llm == "tiny-llama":
        return str(tiny_llama_dir())
    return llm


def _trainer_class(base, *, silent: bool, checkpoint_every_s: float | None):
    """be-great's GReaTTrainer plus what GReaT.fit gives us no hook for: silence and timed checkpoints."""
    from transformers import PrinterCallback, TrainerCallback

    class TimedCheckpoint(TrainerCallback):
        def __init__(self):
            self.interval = Interval(checkpoint_every_s)

        def on_step_end(self, args, state, control, **kwargs):
            if self.interval.due():
                control.should_save = True
            return control

    class Trainer(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if silent:
                self.remove_callback(PrinterCallback)
            if checkpoint_every_s:
                self.add_callback(TimedCheckpoint())

    return Trainer


class _NoShuffle:
    """Stands in for the `random` module of be-great's dataset: rows keep the frame's column order."""

    def __getattr__(self, name):
        import random
        return getattr(random, name)

    @staticmethod
    def shuffle(x):
        return None


@contextlib.contextmanager
def patched_fit(silent: bool, checkpoint_every_s: float | None, permute: bool = True):
    import be_great.great as bg
    import be_great.great_dataset as bd

    saved = bg.GReaTTrainer, bg.Chug, bd.random
    bg.GReaTTrainer = _trainer_class(saved[0], silent=silent, checkpoint_every_s=checkpoint_every_s)
    if silent:
        bg.Chug = functools.partial(saved[1], disable=True)
    if not permute:          # GReaTDataset shuffles each row's columns with random.shuffle
        bd.random = _NoShuffle()
    try:
        yield
    finally:
        bg.GReaTTrainer, bg.Chug, bd.random = saved
