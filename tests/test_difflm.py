"""DiffLM pieces on tiny random-init models (the end-to-end runs are in the conformance suite)."""
import json

import pytest
import torch

from harness.api import TableMetadata
from methods.difflm.beta import CyclicalBeta, DecreasingBeta
from methods.difflm.diffusion import EDM, MLPDenoiser
from methods.difflm.table import parse_record, row_to_text

META = TableMetadata(columns=["age", "job", "y"], numerical=["age"], categorical=["job", "y"], target="y",
                     task_type="binclass", categories={"job": ["?", "clerk"], "y": ["False", "True"]})


def test_row_text_roundtrip():
    text = row_to_text({"age": 39.0, "job": "clerk", "y": "True"}, META)
    assert text == '{"age": 39, "job": "clerk", "y": "True"}'
    assert parse_record(text, META).record == {"age": 39.0, "job": "clerk", "y": "True"}


@pytest.mark.parametrize("text,reason", [
    ('{"age": 39, "job": "clerk"}', "missing key 'y'"),
    ('{"age": 39, "job": "clerk", "y": "True", "z": 1}', "extra key 'z'"),
    ('{"age": "old", "job": "clerk", "y": "True"}', "bad number for 'age'"),
    ('{"age": 39, "job": "pilot", "y": "True"}', "unknown category for 'job'"),
    ('{"age": 39, "job": "clerk", "y": tru}', "invalid JSON"),
    ('{"age": 39, "job": "clerk", "y": "Tr', "not a JSON object"),
    ('age: 39', "not a JSON object"),
])
def test_parser_rejects_broken_records(text, reason):
    p = parse_record(text, META)
    assert not p.ok and p.reason.startswith(reason)


def test_parser_accepts_json_booleans_and_trailing_text():
    p = parse_record('{"age": 1e2, "job": "?", "y": true} and more', META)
    assert p.ok and p.record == {"age": 100.0, "job": "?", "y": "True"}


def test_decreasing_beta_schedule():
    s = DecreasingBeta(beta_max=0.1, beta_min=0.001, factor=0.7, patience=2, stop_patience=4)
    assert s.observe(1.0) and s.beta == 0.1
    s.observe(1.1)
    assert s.beta == 0.1                         # one bad validation: no change yet
    s.observe(1.2)
    assert s.beta == pytest.approx(0.07)         # two in a row: β *= 0.7
    assert s.observe(0.9) and s.bad == 0         # improvement resets the count, keeps β
    for _ in range(4):
        s.observe(2.0)
    assert s.should_stop and s.beta == pytest.approx(0.1 * 0.7 ** 3)
    floor = DecreasingBeta(beta_max=0.002, beta_min=0.001, patience=1, stop_patience=100)
    floor.observe(1.0)
    for _ in range(10):
        floor.observe(2.0)
    assert floor.beta == 0.001


def test_cyclical_beta_as_the_official_code_zero_then_rise_then_hold():
    s = CyclicalBeta(total_steps=100, beta_max=0.2, n_cycles=2)       # periods of 50: 25 at 0, 12.5 rising
    assert [s.value(t) for t in (0, 24, 25)] == [0.0, 0.0, 0.0]
    assert s.value(30) == pytest.approx(0.2 * 5 / 12.5) and s.value(40) == 0.2 and s.value(49) == 0.2
    assert s.value(50) == 0.0 and s.value(90) == 0.2


def test_vae_cache_key_follows_the_cycle_settings_only_for_cyclical_beta():
    from dataclasses import asdict
    from methods.difflm.config import DiffLMConfig
    from methods.difflm.train import vae_key
    key = lambda **kw: vae_key(asdict(DiffLMConfig(**kw)), 0, ["a", "b"])
    assert key(cycle_beta_max=0.5) == key()                       # decreasing β: the peak plays no part
    assert key(beta_schedule="cyclical", cycle_beta_max=0.5) != key(beta_schedule="cyclical")
    assert key(beta_schedule="cyclical") != key()


def test_denoiser_learns_a_2d_toy_distribution():
    g = torch.Generator().manual_seed(0)
    centers = torch.tensor([[1.0, 1.0], [-1.0, -1.0]])
    data = centers[torch.randint(0, 2, (512,), generator=g)] * 0.5 + 0.05 * torch.randn(512, 2, generator=g)
    torch.manual_seed(0)
    edm = EDM(MLPDenoiser(2, dim_t=64, n_blocks=1))
    opt = torch.optim.Adam(edm.parameters(), lr=2e-3)
    def eval_loss():
        with torch.no_grad():
            return float(sum(edm.loss(data, generator=torch.Generator().manual_seed(i)) for i in range(5)) / 5)
    before = eval_loss()
    for step in range(300):
        loss = edm.loss(data, generator=g)
        opt.zero_grad(); loss.backward(); opt.step()
    assert eval_loss() < 0.7 * before
    x = edm.sample(256, 2, steps=20, generator=torch.Generator().manual_seed(1))
    assert torch.isfinite(x).all()
    assert (x.abs().mean(1) - 0.5).abs().mean() < 0.25     # samples near the two modes at ±0.5


@pytest.fixture(scope="module")
def tiny_models():
    from methods.backbones import load_decoder, load_encoder
    torch.manual_seed(0)               # the same random models whichever tests ran before (-k, -p xdist)
    llm, ltok = load_decoder("tiny-llama")
    enc, etok, h = load_encoder("tiny-bert")
    return llm, ltok, enc, etok, h


@pytest.mark.parametrize("injector", ["prompt", "memory", "embed"])
def test_only_encoder_head_injector_get_gradients(tiny_models, injector):
    from methods.difflm.vae import TextVAE
    llm, ltok, enc, etok, h = tiny_models
    vae = TextVAE(enc, etok, h, llm, ltok, d_z=8, injector=injector, k=3, n_prefix=2)
    vae.trainable.zero_grad()
    loss, rec, kl = vae(['{"a": 1}', '{"a": 22}'], beta=0.1)
    loss.backward()
    assert all(p.grad is None for p in llm.parameters())
    assert all(not k.startswith("llm") for k in vae.state_dict())       # the LLM is never saved
    grads = {n: p.grad is not None for n, p in vae.trainable.named_parameters() if "pooler" not in n}
    assert all(grads.values()), [n for n, g in grads.items() if not g]
    if injector == "prompt":
        soft = vae.injector.soft_tokens(torch.zeros(2, 8))
        assert soft.shape == (2, 5, llm.config.hidden_size)


def test_constrained_decoding_always_parses(tiny_models):
    from methods.difflm.constrained import SchemaConstraint
    from methods.difflm.table import row_grammar
    from methods.difflm.vae import TextVAE
    llm, ltok, enc, etok, h = tiny_models
    vae = TextVAE(enc, etok, h, llm, ltok, d_z=8, injector="prompt", k=3, n_prefix=0)
    c = SchemaConstraint(row_grammar(META), ltok, llm.config.vocab_size)
    out = vae.generate(torch.randn(6, 8), max_new_tokens=80, generator=torch.Generator().manual_seed(0), constraint=c)
    finished = [t for t in out if t.endswith("}")]
    assert finished and all(parse_record(t, META).ok for t in finished)
    assert all(list(json.loads(t)) == META.columns for t in finished)


@pytest.mark.parametrize("injector,jump", [("prompt", False), ("memory", False), ("embed", False),
                                           ("prompt", True), ("memory", True), ("embed", True)])
def test_finished_rows_leave_the_batch_without_changing_any_row(tiny_models, injector, jump):
    """Greedy rows decoded in one batch (which drops rows as they end) equal the same rows decoded alone; with
    jump-forward too, where rows forced different numbers of tokens share a padded step."""
    from methods.difflm.constrained import SchemaConstraint
    from methods.difflm.table import row_grammar
    from methods.difflm.vae import TextVAE
    llm, ltok, enc, etok, h = tiny_models

    def decode(zz):
        c = SchemaConstraint(row_grammar(META), ltok, llm.config.vocab_size)
        return vae.generate(zz, max_new_tokens=60, temperature=0.0, constraint=c, jump_forward=jump)

    for seed in range(5):         # a random tiny model may end every row at once: find rows that end apart
        torch.manual_seed(seed)
        vae = TextVAE(enc, etok, h, llm, ltok, d_z=8, injector=injector, k=3, n_prefix=1)
        z = torch.randn(10, 8) * 3
        batched = decode(z)
        if len({len(t) for t in batched}) > 1:      # rows ended at different steps: the batch shrank
            break
    else:
        pytest.fail("every seed ended all rows at the same step: the shrinking batch went untested")
    alone = [decode(z[i:i + 1])[0] for i in range(len(z))]
    assert batched == alone


def test_number_formats_shape_the_grammar(tiny_models):
    """An integer column seen with at most 2 digits admits only such integers, so rows stay short."""
    from methods.difflm.constrained import SchemaConstraint
    from methods.difflm.table import number_formats, row_grammar
    from methods.difflm.vae import TextVAE
    texts = ['{"age": 37, "job": "clerk", "y": "True"}', '{"age": 5, "job": "?", "y": "False"}']
    fmt = number_formats(texts, META)["age"]
    assert (fmt.signed, fmt.int_digits, fmt.frac_digits, fmt.exponent) == (False, 2, 0, False)
    floats = number_formats(['{"age": -0.125, "job": "?", "y": "True"}', '{"age": 1e-05, "job": "?", "y": "True"}'], META)
    assert floats["age"].signed and floats["age"].frac_digits == 3 and floats["age"].exponent
    assert "." not in row_grammar(META, formats={"age": fmt}).splitlines()[1]
    llm, ltok, enc, etok, h = tiny_models
    vae = TextVAE(enc, etok, h, llm, ltok, d_z=8, injector="prompt", k=3, n_prefix=0)
    c = SchemaConstraint(row_grammar(META, formats={"age": fmt}), ltok, llm.config.vocab_size)
    out = vae.generate(torch.randn(6, 8), max_new_tokens=80, generator=torch.Generator().manual_seed(0), constraint=c)
    finished = [t for t in out if t.endswith("}")]
    assert finished
    for t in finished:
        age = json.loads(t)["age"]
        assert isinstance(age, int) and 0 <= age < 100


def test_constrained_limit_is_the_grammars_bound():
    """Every token is >= 1 byte, so the longest row the grammar admits bounds the tokens a row can take."""
    from methods.difflm.codecs import TableCodec
    from methods.difflm.config import DiffLMConfig
    from methods.difflm.sampling import decode_limit
    from methods.difflm.table import NumberFormat, row_max_bytes
    fmt = {"age": NumberFormat(False, 2, 0, False)}
    longest = '{"age": 99, "job": "clerk", "y": "False"}'
    assert row_max_bytes(META, formats=fmt) == len(longest.encode())
    codec = TableCodec(META, fmt)
    assert decode_limit(DiffLMConfig(), "constrained", None, [], codec) == len(longest) + 1
    assert decode_limit(DiffLMConfig(max_new_tokens=10), "constrained", None, [], codec) == 10


def test_variant_profile_sizing_and_overrides():
    from methods.difflm import DiffLMMethod, DiffLMNoDiff
    assert DiffLMNoDiff.from_profile("cpu").cfg().max_sample_rows == 2000     # the ablations share one budget
    assert DiffLMNoDiff.from_profile("paper").cfg().max_sample_rows is None
    assert DiffLMMethod.from_profile("cpu").cfg().max_sample_rows == 2000     # real rows: MLE 0.902 at 2,000
    assert DiffLMNoDiff.from_profile("cpu", max_sample_rows=100).cfg().max_sample_rows == 100   # --set wins


# --- codecs: one VAE for every modality -------------------------------------------------------------
def test_codec_for_each_modality():
    from harness.api import RecordMetadata
    from methods.difflm.codecs import JSONCodec, TableCodec, TextCodec, codec_for
    assert isinstance(codec_for(META), TableCodec)
    assert isinstance(codec_for(RecordMetadata("text")), TextCodec)
    assert codec_for(RecordMetadata("code")).modality == "code"
    assert isinstance(codec_for(RecordMetadata("json", {"type": "object"})), JSONCodec)
    text = codec_for(RecordMetadata("code"))
    assert text.encode(["x = 1\n"]) == ["x = 1\n"] and not text.has_grammar and text.grammar(15) is None
    assert text.parse("print(1)").record == "print(1)" and text.parse("  ").reason == "empty text"


@pytest.mark.parametrize("text,reason", [
    ('{"a": 1', "invalid JSON"), ('[1, 2]', "not a JSON object"), ('{"b": 2}', "missing key 'a'")])
def test_json_codec_parse(text, reason):
    from methods.difflm.codecs import JSONCodec
    codec = JSONCodec({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]})
    assert codec.parse(text).reason.startswith(reason)
    assert codec.parse('{"a": 1, "é": [true]}').record == {"a": 1, "é": [True]}
    assert codec.encode([{"a": 1, "é": "ü"}]) == ['{"a": 1, "é": "ü"}']       # json.dumps, ensure_ascii=False


def test_json_grammar_without_schema_gives_objects(tiny_models):
    from methods.difflm.codecs import JSONCodec
    from methods.difflm.constrained import SchemaConstraint
    from methods.difflm.vae import TextVAE
    llm, ltok, enc, etok, h = tiny_models
    vae = TextVAE(enc, etok, h, llm, ltok, d_z=8, injector="prompt", k=3, n_prefix=0)
    codec = JSONCodec()
    c = SchemaConstraint(codec.grammar(15), ltok, llm.config.vocab_size)
    out = vae.generate(torch.randn(8, 8), max_new_tokens=60, generator=torch.Generator().manual_seed(0), constraint=c,
                       temperature=0.1)
    assert all(t.startswith("{") for t in out)
    finished = [t for t in out if t.endswith("}") and codec.parse(t).ok]
    assert all(isinstance(codec.parse(t).record, dict) for t in finished)


def test_difflm_fits_and_samples_text_and_json(json_corpus):
    from harness.api import RecordMetadata
    from methods.difflm import DiffLMMethod
    rng = torch.Generator().manual_seed(0)
    nouns, verbs = ["cat", "dog", "bird", "fish", "cow"], ["runs", "sleeps", "eats", "sings"]
    texts = [f"a {nouns[i % 5]} {verbs[int(torch.randint(0, 4, (1,), generator=rng))]} at {i % 12}" for i in range(100)]
    m = DiffLMMethod.from_profile("smoke").fit(texts, RecordMetadata("text"))
    out = m.sample(10, seed=0)
    assert isinstance(out, list) and len(out) == 10 and all(isinstance(t, str) and t.strip() for t in out)
    s = m.extra_record()["sampling"]
    assert s["decoding"] == "free" and "no grammar" in s["decoding_note"]       # smoke asks for constrained
    records, meta = json_corpus
    m = DiffLMMethod.from_profile("smoke").fit(records, meta)
    out = m.sample(10, seed=0)
    assert len(out) == 10 and all(isinstance(r, dict) and set(r) == {"colour", "size", "count"} for r in out)
    assert all(r["colour"] in ("red", "green", "blue") and 0 <= r["count"] <= 20 for r in out)   # the schema's grammar
    assert m.extra_record()["sampling"]["decoding"] == "constrained"


def test_benchmark_on_table_and_text(tiny, text_corpus):
    """`python -m harness bench difflm` reaches this through the registry; smoke models, seconds."""
    from harness.api import Splits
    from methods.difflm import DiffLMMethod
    df, meta = tiny
    out = DiffLMMethod.benchmark(Splits(df, None, df, meta), profile="smoke")
    assert set(out["formats"]) == {"json-object", "json-array"}      # every row format, on the same rows
    for f in out["formats"].values():
        assert f["train_tokens_per_s"] > 0 and f["tokens_per_row_mean"] > 0 and {"free", "constrained"} <= set(f)
    assert out["formats"]["json-array"]["tokens_per_row_mean"] < out["formats"]["json-object"]["tokens_per_row_mean"]
    texts, tmeta = text_corpus
    out = DiffLMMethod.benchmark(Splits(texts, None, texts, tmeta), profile="smoke")
    (f,) = out["formats"].values()
    assert "free" in f and "constrained" not in f                      # text has no grammar


@pytest.mark.parametrize("fmt", ["json-object", "json-array"])
def test_row_formats_round_trip_and_grammar(tiny, fmt):
    from methods.difflm.codecs import TableCodec
    df, meta = tiny
    codec = TableCodec(meta, row_format=fmt)
    texts = codec.encode(df)
    codec.fit(texts)
    assert texts[0].startswith("{" if fmt == "json-object" else "[")
    for text, row in zip(texts, df.to_dict(orient="records")):
        parsed = codec.parse(text)
        assert parsed.ok, parsed.reason
        assert parsed.record["colour"] == row["colour"] and abs(parsed.record["x2"] - row["x2"]) < 1e-9
    assert max(len(t.encode()) for t in texts) <= codec.max_bytes(20)     # 20: no training value is capped
    assert codec.grammar(7).count("::=") == 1 + len(meta.columns)
    bad = codec.parse(texts[0].replace('"red"', '"purple"').replace('"green"', '"purple"').replace('"blue"', '"purple"'))
    assert not bad.ok and "unknown category" in bad.reason


def test_array_rows_need_one_value_per_column(tiny):
    from methods.difflm.codecs import TableCodec
    df, meta = tiny
    codec = TableCodec(meta, row_format="json-array")
    assert codec.parse("[1, 2]").reason.startswith("wrong number of values")
    assert codec.parse('{"x1": 1}').reason == "not a JSON array"
    with pytest.raises(ValueError, match="row_format"):
        TableCodec(meta, row_format="csv")


def test_validation_every_n_steps_drives_the_history_and_lr(tiny):
    from methods.difflm import DiffLMMethod
    df, meta = tiny
    m = DiffLMMethod.from_profile("smoke", max_steps=6, eval_every=2, lr_schedule="cosine", warmup_frac=0.2,
                                  diffusion=False).fit(df, meta)
    assert [h["step"] for h in m.history_] == [2, 4, 6]
    lrs = [h["lr"] for h in m.history_]
    assert lrs[0] > lrs[1] > lrs[2] >= 0          # cosine decay after the warmup


def test_every_record_has_a_reconstruction_check(tiny):
    from methods.difflm import DiffLMMethod
    df, meta = tiny
    m = DiffLMMethod.from_profile("smoke", row_format="json-array", diffusion=False).fit(df, meta)
    rec = m.extra_record()["reconstruction"]
    assert rec["rows"] == 6 and rec["decoding"] == "constrained" and rec["valid_rate"] == 1.0   # 10% of 60 rows
    assert set(rec["columns"]) == set(meta.columns) and 0 <= rec["column_accuracy"] <= 1
    assert "median_rel_error" in rec["columns"]["x1"] and "median_rel_error" not in rec["columns"]["colour"]
    assert rec["examples"][0]["original"].startswith("[")


def test_position_budget_lowers_steps_for_long_records_only():
    from types import SimpleNamespace

    from methods.difflm.config import DiffLMConfig
    from methods.difflm.train import budgeted_steps

    def tok(text, add_special_tokens=False):
        return SimpleNamespace(input_ids=text.split())

    cfg = DiffLMConfig(max_steps=350, batch_size=16, max_len=256, max_train_positions=500_000)
    short = [" ".join(["w"] * n) for n in range(60, 78)] * 50          # adult-like rows: ~80 positions a batch
    long = [" ".join(["w"] * n) for n in (100, 150, 300, 900)] * 200   # longest capped at max_len
    assert budgeted_steps(cfg, short, tok) == 350
    assert budgeted_steps(cfg, long, tok) == 500_000 // (16 * 258)
    assert budgeted_steps(DiffLMConfig(max_steps=350), long, tok) == 350    # no budget: the steps as given
