"""The collapse diagnostics tell a VAE whose decoder reads z from one whose latent carries nothing."""
import pytest
import torch

from methods.difflm.diagnostics import MIN_GAP, console_line, latent_usage, mode_baseline, verdict

TEXTS = ['{"a": 1, "b": "x"}', '{"a": 22, "b": "yy"}', '{"a": 333, "b": "zzz"}', '{"a": 4444, "b": "w"}']


@pytest.fixture(scope="module")
def tiny_models():
    from methods.backbones import load_decoder, load_encoder
    torch.manual_seed(0)
    llm, ltok = load_decoder("tiny-llama")
    enc, etok, h = load_encoder("tiny-bert")
    return llm, ltok, enc, etok, h


def _vae(tiny_models, **kw):
    from methods.difflm.vae import TextVAE
    llm, ltok, enc, etok, h = tiny_models
    torch.manual_seed(0)
    return TextVAE(enc, etok, h, llm, ltok, d_z=4, injector="prompt", k=2, n_prefix=0, **kw)


def test_a_constant_encoder_is_collapsed(tiny_models):
    vae = _vae(tiny_models)
    with torch.no_grad():
        vae.trainable["head"].weight.zero_()      # every row maps to the head's bias: one point for all rows
    usage = latent_usage(vae, TEXTS, batch_size=2)
    assert usage["active_units"] == 0 and abs(usage["usage_gap"]) < 1e-6
    v = verdict(usage, {"distinct_decodes": 0.25, "rows": 4})
    assert v["collapsed"] and len(v["reasons"]) == 3
    assert "COLLAPSED" in console_line("difflm", {**usage, **v})


def test_a_trained_vae_reads_its_latent(tiny_models):
    """β = 0 and the anti-collapse levers (standardised features, BN-VAE, narrow posterior): the decoder
    learns to tell the rows apart by z, so another row's μ reconstructs worse than the row's own. (The
    embedding injector: a random-init tiny LLM's near-uniform logits are slow to steer with 2 soft tokens.)"""
    import copy
    llm, ltok, enc, etok, h = tiny_models
    from methods.difflm.vae import TextVAE
    torch.manual_seed(0)
    vae = TextVAE(copy.deepcopy(enc), etok, h, llm, ltok, d_z=4, injector="embed", k=2, n_prefix=0,
                  feature_norm="batch", mu_bn=1.0, logvar_init=-6.0)
    opt = torch.optim.AdamW([p for p in vae.trainable.parameters() if p.requires_grad], lr=1e-2, weight_decay=0)
    gen = torch.Generator().manual_seed(0)
    for _ in range(40):
        vae.train()
        loss, _, _ = vae(TEXTS, beta=0.0, generator=gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
    usage = latent_usage(vae, TEXTS, batch_size=4)
    assert usage["active_units"] >= 1
    assert usage["usage_gap"] > 3 * MIN_GAP, usage
    assert not verdict(usage, {"distinct_decodes": 1.0, "rows": 4})["collapsed"]


def test_mode_baseline_scores_the_most_common_value_per_column():
    from harness.api import TableMetadata
    from methods.difflm.codecs import TableCodec
    meta = TableMetadata(columns=["a", "b"], numerical=["a"], categorical=["b"], target="b", task_type="binclass",
                         categories={"b": ["x", "y"]})
    codec = TableCodec(meta, row_format="json-array")
    train = ['[1, "x"]', '[1, "x"]', '[2, "y"]']
    held = ['[1, "y"]', '[3, "x"]']
    assert mode_baseline(codec, train, held) == pytest.approx((0.5 + 0.5) / 2)
    assert mode_baseline(TableCodec(meta, row_format="json-array"), [], held) is None
