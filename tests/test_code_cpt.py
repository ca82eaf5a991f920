"""Continued pre-training of the code task (tasks/code/cpt.py) on a 2-layer random-init Llama: seconds each."""
from types import SimpleNamespace

import pytest
import torch

from harness.api.models import tiny_llama
from tasks.code.cpt import CPTSettings, continue_pretraining, tokenize_corpus

FAST = dict(lr=1e-2, block_size=32, batch_size=2, grad_accum=2, seed=0)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The tiny model's ops are too small to split: two threads only contend (10× slower on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tok():
    from harness.api.models import gguf_tokenizer

    return gguf_tokenizer("smollm2")   # GPT-2 style: adds neither BOS nor EOS


class BosTokenizer:
    """Gemma-like: puts a BOS before a text by itself; one id per character."""
    bos_token_id, eos_token_id = 1, 2

    def __call__(self, text, add_special_tokens=True):
        one = lambda t: ([self.bos_token_id] if add_special_tokens else []) + [100 + ord(c) for c in t]  # noqa: E731
        return SimpleNamespace(input_ids=[one(t) for t in text] if isinstance(text, list) else one(text))


def test_eos_after_every_document_and_block_shape(tok, code_corpus):
    texts, _ = code_corpus
    blocks, info = tokenize_corpus(texts, tok, CPTSettings(block_size=32))
    expected = [i for t in texts for i in tok(t, add_special_tokens=False).input_ids + [tok.eos_token_id]]
    assert blocks.shape == (len(expected) // 32, 32) and blocks.dtype == torch.long
    assert blocks.flatten().tolist() == expected[:blocks.numel()]
    assert info == {"n_docs_used": 60, "n_docs_given": 60, "n_tokens": len(expected), "n_blocks": len(expected) // 32,
                    "tokens_dropped": len(expected) % 32, "truncated_by": None, "bos_per_doc": False}


def test_bos_before_every_document_when_the_tokenizer_adds_one():
    blocks, info = tokenize_corpus(["ab", "c", "de"], BosTokenizer(), CPTSettings(block_size=4))
    assert info["bos_per_doc"] and info["n_tokens"] == 11 and info["tokens_dropped"] == 3
    assert blocks.tolist() == [[1, 197, 198, 2], [1, 199, 2, 1]]


def test_caps(tok, code_corpus):
    texts, _ = code_corpus
    _, by_docs = tokenize_corpus(texts, tok, CPTSettings(block_size=16, max_docs=10))
    assert (by_docs["n_docs_used"], by_docs["n_docs_given"], by_docs["truncated_by"]) == (10, 60, "max_docs")
    blocks, by_tokens = tokenize_corpus(texts, tok, CPTSettings(block_size=16, max_tokens=100))
    assert by_tokens["n_tokens"] == 100 and by_tokens["truncated_by"] == "max_tokens"
    assert blocks.shape == (6, 16) and by_tokens["tokens_dropped"] == 4 and by_tokens["n_docs_used"] < 60
    _, loose = tokenize_corpus(texts, tok, CPTSettings(block_size=16, max_tokens=10**6, max_docs=100))
    assert loose["truncated_by"] is None and loose["n_docs_used"] == 60


def test_equal_token_accounting_for_corpora_of_different_lengths(tok, code_corpus):
    short, _ = code_corpus
    long = [f"{t}\n\n# {t}\n{t}" for t in short[:40]]   # fewer, longer documents
    s = CPTSettings(block_size=32, max_tokens=500)
    (a, ia), (b, ib) = tokenize_corpus(short, tok, s), tokenize_corpus(long, tok, s)
    assert a.shape == b.shape == (15, 32)
    keys = ("n_tokens", "n_blocks", "tokens_dropped", "truncated_by")
    assert [ia[k] for k in keys] == [ib[k] for k in keys] == [500, 15, 20, "max_tokens"]
    assert ia["n_docs_used"] > ib["n_docs_used"]


def test_training_lowers_the_loss(tok, tmp_path):
    texts = ["def add(a, b):\n    return a + b"] * 40
    model, _, info = continue_pretraining(tiny_llama(tok, seed=0), texts, tokenizer=tok, quiet=True, out_dir=tmp_path,
                                          settings=CPTSettings(epochs=3, **FAST))
    first, *_, last = info["epoch_mean_loss"]
    assert last < first - 2, info["epoch_mean_loss"]
    assert info["steps_this_call"] == info["steps"] > 0 and info["resumed_from_step"] == 0
    assert info["device"] == "cpu" and info["dtype"] == "float32" and info["tokens_per_s"] > 0
    assert not model.training and (tmp_path / "done.json").exists() and not (tmp_path / "checkpoint.pt").exists()


def test_kill_and_resume_equals_an_uninterrupted_run(tok, code_corpus, tmp_path):
    texts, _ = code_corpus
    s = CPTSettings(epochs=2, save_every_steps=2, **FAST)   # 27 blocks: 7 steps per epoch, the last one short
    ref, _, ref_info = continue_pretraining(tiny_llama(tok, seed=0), texts, tokenizer=tok, settings=s, quiet=True,
                                            out_dir=tmp_path / "ref")
    assert ref_info["n_blocks"] == 27 and ref_info["steps"] == 14

    def kill(step, loss):
        if step == 9:   # in the second epoch, one step after a checkpoint
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        continue_pretraining(tiny_llama(tok, seed=0), texts, tokenizer=tok, settings=s, quiet=True,
                             out_dir=tmp_path / "run", on_step=kill)
    assert (tmp_path / "run" / "checkpoint.pt").exists() and not (tmp_path / "run" / "done.json").exists()
    model, _, info = continue_pretraining(tiny_llama(tok, seed=1), texts, tokenizer=tok, settings=s,
                                          quiet=True, out_dir=tmp_path / "run")
    assert (info["resumed_from_step"], info["steps_this_call"]) == (8, 6)
    assert info["epoch_mean_loss"] == pytest.approx(ref_info["epoch_mean_loss"], rel=1e-5)
    got = model.state_dict()
    for name, p in ref.state_dict().items():
        torch.testing.assert_close(got[name], p, rtol=1e-5, atol=1e-6, msg=name)


def test_a_finished_run_is_reused_without_training(tok, code_corpus, tmp_path):
    texts, _ = code_corpus
    s = CPTSettings(epochs=1, **FAST)
    trained, _, first = continue_pretraining(tiny_llama(tok, seed=0), texts, tokenizer=tok, settings=s, quiet=True,
                                             out_dir=tmp_path)

    def no_training(step, loss):
        raise AssertionError("a finished run was trained again")

    model, _, again = continue_pretraining(tiny_llama(tok, seed=0), texts, tokenizer=tok, settings=s, quiet=True,
                                           out_dir=tmp_path, on_step=no_training)
    assert again["reused"] and again["steps_this_call"] == 0 and again["steps"] == first["steps"]
    got = model.state_dict()
    for name, p in trained.state_dict().items():
        torch.testing.assert_close(got[name], p, msg=name)
    with pytest.raises(ValueError, match="another model, corpus or settings"):
        continue_pretraining(tiny_llama(tok, seed=0), texts[:30], tokenizer=tok, settings=s, quiet=True, out_dir=tmp_path)
