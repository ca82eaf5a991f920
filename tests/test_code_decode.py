"""The evaluation's decoder (rows leave the batch as they end) against `model.generate`, on tiny random
models: a Llama and a Gemma-3 whose sliding window is shorter than the prompts, left padding included."""
import pytest
import torch

from harness.api.models import gguf_tokenizer, tiny_llama
from tasks.code.benchmarks import cut
from tasks.code.decode import complete

PROMPTS = ["def add(a, b):\n    return", "import os\n\nclass Thing:\n    def __init__(self, x):\n        self.x =",
           "# sort a list\ndef f(xs):", "x = 1"]


def tiny_gemma3(tok):
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig
    cfg = Gemma3TextConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                           num_attention_heads=2, num_key_value_heads=1, head_dim=32, sliding_window=8,
                           layer_types=["sliding_attention", "full_attention"], max_position_embeddings=512,
                           bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    return Gemma3ForCausalLM(cfg).eval()


def reference(model, tok, prompts, stops, n):
    """`generate`, greedy, every row to n tokens; then each row cut at its first stop or end token."""
    tok.padding_side = "left"
    enc = tok(prompts, return_tensors="pt", padding=True)
    ids = model.generate(**enc, max_new_tokens=n, do_sample=False, pad_token_id=tok.pad_token_id)
    rows = []
    for row in ids[:, enc["input_ids"].shape[1]:].tolist():
        row = row[:row.index(tok.eos_token_id)] if tok.eos_token_id in row else row
        rows.append(cut(tok.decode(row, skip_special_tokens=True), stops))
    return rows


@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_greedy_rows_match_generate_while_rows_leave_the_batch(arch):
    tok = gguf_tokenizer("smollm2")
    tok.pad_token = tok.pad_token or tok.eos_token
    model = tiny_llama(tok, seed=0).eval() if arch == "llama" else tiny_gemma3(tok)
    n = 24
    free = reference(model, tok, PROMPTS, (), n)
    # stops taken from what the rows write, so rows end at different steps and leave the batch
    stops = (free[0][8:12], free[2][3:6])
    assert all(stops)
    want = reference(model, tok, PROMPTS, stops, n)
    got = [cut(t, stops) for t in complete(model, tok, PROMPTS, stops, max_new_tokens=n)]
    assert got == want
    assert len({len(t) for t in got}) > 1            # the rows did end at different lengths


def test_sampling_is_seeded_and_top_p_keeps_the_mass_it_names():
    from tasks.code.decode import _pick
    logits = torch.tensor([[2.0, 1.0, 0.0, -5.0]])
    picks = {_pick(logits, 1.0, 0.5, torch.Generator().manual_seed(s)).item() for s in range(50)}
    assert picks == {0}                                  # token 0 alone holds ≥ 50 % of the mass
    tok = gguf_tokenizer("smollm2")
    model = tiny_llama(tok, seed=0).eval()
    draw = lambda s: complete(model, tok, PROMPTS[:2], (), max_new_tokens=6, temperature=0.8, top_p=0.95,
                              generator=torch.Generator().manual_seed(s))
    assert draw(1) == draw(1) and draw(1) != draw(2)
