"""Continued pre-training (CPT) of a causal LM on Python code texts: the code task's downstream step
(docs/spec/code_and_tool_protocol.md §1.4), run once on the real corpus and once per synthetic corpus.

Follows the authors' `run_llm_pretraining.py` (HF run_clm.py) where it is known: causal-LM loss on every token,
documents concatenated and cut into fixed blocks with the remainder dropped, lr 1e-5 and 3 epochs (paper), and
HF Trainer defaults for what the paper leaves open (AdamW, linear decay, no warmup, no weight decay, clip 1.0).
Deviations, all deliberate:
- an EOS after every document (harness rule: GPT-2-style tokenizers such as SmolLM2's add no separator);
- block_size 512 by default (the script would use min(1024, max positions) = 1,024): half the cost on CPU;
- no 5 % of the rows held out as the script's implicit validation split: the caller owns the splits.
Resumable: the whole training state is checkpointed in out_dir every `save_every_steps` optimizer steps; a
finished run leaves only the final weights (out_dir/model) and done.json, which later calls load instead of
retraining.
"""
from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from harness.api.io import Checkpoint, write_json_atomic
from harness.api.models import resolve

DONE, MODEL_DIR, CKPT = "done.json", "model", "checkpoint.pt"
TOKENIZE_CHUNK = 1000   # documents per batched tokenizer call: fast, and a max_tokens cap stops early


@dataclass
class CPTSettings:
    lr: float = 1e-5                 # paper (HF default 5e-5)
    epochs: int = 3                  # paper (= HF default)
    block_size: int = 512            # the official script's HF default would be 1,024 (see the module doc)
    batch_size: int = 4              # blocks per forward pass
    grad_accum: int = 2              # 4 × 2 = 8 blocks per optimizer step = HF's default per-device batch
    max_tokens: int | None = None    # cap on corpus tokens per arm (the caller gives every arm the same cap)
    max_docs: int | None = None
    warmup_frac: float = 0.0
    weight_decay: float = 0.0        # applied to every weight (HF spares biases/norms; moot at 0)
    clip: float = 1.0
    schedule: str = "linear"         # any transformers.get_scheduler name
    dtype: str = "auto"              # compute dtype: "auto" = bfloat16 on CUDA when supported, else float32
    save_every_steps: int = 50
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def _adds_bos(tokenizer) -> bool:
    """Whether the tokenizer puts a BOS before a text by itself (Gemma: <bos>; SmolLM2/GPT-2 style: nothing).
    Asked of the tokenizer's output because the flag's name and place differ between tokenizer classes."""
    bos = tokenizer.bos_token_id
    return bos is not None and list(tokenizer("a").input_ids[:1]) == [bos]


def _doc_ids(docs: list[str], tokenizer):
    for start in range(0, len(docs), TOKENIZE_CHUNK):
        yield from tokenizer(docs[start:start + TOKENIZE_CHUNK], add_special_tokens=False).input_ids


def tokenize_corpus(texts, tokenizer, settings: CPTSettings) -> tuple[torch.Tensor, dict]:
    """Token blocks [n_blocks, block_size] of the documents in the given order, each document as
    [BOS] + tokens + EOS; the BOS only where the tokenizer adds one by itself, so documents start as in the
    model's pre-training. max_docs keeps the first documents; max_tokens cuts the stream at exactly that many
    tokens (the last document loses its tail and EOS), so arms capped alike train on equal token counts. The
    tokens after the last full block are dropped (run_clm.py does the same per 1,000-document batch)."""
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("the tokenizer has no EOS token to end documents with")
    bos = _adds_bos(tokenizer)
    prefix = [tokenizer.bos_token_id] if bos else []
    texts = list(texts)
    docs = texts if settings.max_docs is None else texts[:settings.max_docs]
    cap, stream, n_used = settings.max_tokens, [], 0
    for ids in _doc_ids(docs, tokenizer):
        if cap is not None and len(stream) >= cap:
            break
        stream.extend(prefix + list(ids) + [eos])
        n_used += 1
    if cap is not None and (len(stream) > cap or n_used < len(docs)):
        truncated_by = "max_tokens"
        del stream[cap:]
    else:
        truncated_by = "max_docs" if len(docs) < len(texts) else None
    bs = settings.block_size
    n_blocks = len(stream) // bs
    if n_blocks == 0:
        raise ValueError(f"{len(stream)} corpus tokens do not fill one block of {bs}")
    blocks = torch.tensor(stream[:n_blocks * bs], dtype=torch.long).view(n_blocks, bs)
    return blocks, {"n_docs_used": n_used, "n_docs_given": len(texts), "n_tokens": len(stream),
                    "n_blocks": n_blocks, "tokens_dropped": len(stream) - n_blocks * bs,
                    "truncated_by": truncated_by, "bos_per_doc": bos}


def _compute_dtype(name: str, device: torch.device) -> torch.dtype:
    if name == "auto":
        name = "bfloat16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "float32"
    if name not in ("float32", "bfloat16"):   # float16 would need loss scaling
        raise ValueError(f"CPT dtype must be auto, float32 or bfloat16, not {name!r}")
    return getattr(torch, name)


def _key(model, settings: CPTSettings, blocks: torch.Tensor) -> str:
    """What a checkpoint or a finished run is valid for: model, settings and the exact training tokens (so the
    corpus, tokenizer and caps). save_every_steps is left out: changing it must not discard a run."""
    ident = model if isinstance(model, str) else type(model).__name__ + model.config.to_json_string(use_diff=True)
    params = {k: v for k, v in settings.to_dict().items() if k != "save_every_steps"}
    h = hashlib.sha256(json.dumps([ident, params], sort_keys=True).encode())
    h.update(blocks.numpy().tobytes())
    return h.hexdigest()


def continue_pretraining(model_name_or_model, texts, *, settings: CPTSettings, out_dir: Path, tokenizer=None,
                         quiet: bool = False, device=None, on_step=None):
    """Full fine-tuning of a causal LM on `texts`; returns (model in eval mode, tokenizer, info).

    A model name goes through harness.api.models.resolve; a model object (e.g. harness.api.models.tiny_llama) needs its tokenizer.
    Weights stay float32 (bf16 weights would round away lr-1e-5 updates); bf16 is used as autocast compute
    dtype, as HF Trainer's --bf16 does. on_step(step, loss) is called after each optimizer step and its
    checkpoint (tests raise from it to simulate a kill). If out_dir holds a finished run of the same model,
    settings and tokens, its weights are loaded and nothing is trained; a finished run of anything else is an
    error rather than a silent retrain over it."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, get_scheduler

    out_dir, named = Path(out_dir), isinstance(model_name_or_model, str)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if tokenizer is None:
        if not named:
            raise ValueError("a model object needs its tokenizer")
        tokenizer = AutoTokenizer.from_pretrained(resolve(model_name_or_model))
    blocks, info = tokenize_corpus(texts, tokenizer, settings)
    key = _key(model_name_or_model, settings, blocks)
    if (out_dir / DONE).exists():
        done = json.loads((out_dir / DONE).read_text())
        if done["key"] != key:
            raise ValueError(f"{out_dir} holds a finished CPT run of another model, corpus or settings")
        model = AutoModelForCausalLM.from_pretrained(out_dir / MODEL_DIR, dtype=torch.float32).to(device)
        return model.eval(), tokenizer, {**done["info"], "steps_this_call": 0, "reused": True}

    compute = _compute_dtype(settings.dtype, device)
    model = (AutoModelForCausalLM.from_pretrained(resolve(model_name_or_model), dtype=torch.float32)
             if named else model_name_or_model).to(device)
    bs, accum, n_blocks = settings.batch_size, settings.grad_accum, info["n_blocks"]
    micro_per_epoch = math.ceil(n_blocks / bs)
    steps_per_epoch = math.ceil(micro_per_epoch / accum)
    total = steps_per_epoch * settings.epochs
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    sched = get_scheduler(settings.schedule, opt, num_warmup_steps=round(settings.warmup_frac * total),
                          num_training_steps=total)
    ckpt = Checkpoint(out_dir / CKPT, key, every_s=0)   # due whenever asked: saves are step-based here
    step, epoch_loss = 0, [[0.0, 0] for _ in range(settings.epochs)]   # per epoch: sum of step losses, steps
    torch.manual_seed(settings.seed)
    state = ckpt.load()
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step, epoch_loss = state["step"], state["epoch_loss"]
        torch.set_rng_state(state["rng"])
        if state["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])

    def training_state():
        return {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "step": step, "epoch_loss": epoch_loss, "rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}

    start_step, tokens, loss_now = step, 0, float("nan")
    bar = tqdm(total=total, initial=step, desc=f"cpt {n_blocks}×{settings.block_size} tokens", disable=quiet)
    if start_step and not quiet:
        tqdm.write(f"cpt: resuming after step {start_step} from {ckpt.path}")
    model.train()
    t0 = time.monotonic()
    for epoch in range(step // steps_per_epoch, settings.epochs):
        # the order of each epoch depends only on (seed, epoch), so a resumed run sees the same batches
        order = torch.randperm(n_blocks, generator=torch.Generator().manual_seed(settings.seed + epoch))
        for s in range(step - epoch * steps_per_epoch, steps_per_epoch):
            micro = range(s * accum, min((s + 1) * accum, micro_per_epoch))
            in_step = min((s + 1) * accum * bs, n_blocks) - s * accum * bs
            loss_now = 0.0
            for m in micro:
                batch = blocks[order[m * bs:(m + 1) * bs]].to(device)
                with torch.autocast(device.type, dtype=compute, enabled=compute != torch.float32):
                    loss = model(input_ids=batch, labels=batch, use_cache=False).loss
                # weighted by blocks, so a short last micro-batch counts for what it holds
                (loss * len(batch) / in_step).backward()
                loss_now += loss.item() * len(batch) / in_step
                tokens += batch.numel()
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.clip)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            epoch_loss[epoch][0] += loss_now
            epoch_loss[epoch][1] += 1
            if step % settings.save_every_steps == 0 and step < total:
                ckpt.save(training_state, final=True)
            bar.update(1)
            bar.set_postfix(loss=f"{loss_now:.3f}", tok_s=f"{tokens / (time.monotonic() - t0):.0f}")
            if on_step is not None:
                on_step(step, loss_now)
    bar.close()
    wall = time.monotonic() - t0
    info.update(steps=total, steps_this_call=step - start_step, resumed_from_step=start_step,
                epochs=settings.epochs, epoch_mean_loss=[s / n if n else None for s, n in epoch_loss],
                final_loss=loss_now, tokens_per_s=tokens / wall if wall else None, wall_s=wall,
                device=str(device), dtype=str(compute).removeprefix("torch."), reused=False)
    model.eval()
    _save_final(model, tokenizer, out_dir, {"key": key, "info": info, "settings": settings.to_dict()})
    return model, tokenizer, info


def _save_final(model, tokenizer, out_dir: Path, done: dict) -> None:
    """Weights first, done.json last: a kill in between leaves the checkpoint, and the rerun finishes again.
    The checkpoint goes once done: its optimizer state is twice the weights and of no further use."""
    tmp, final = out_dir / (MODEL_DIR + ".tmp"), out_dir / MODEL_DIR
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    write_json_atomic(out_dir / DONE, done)
    (out_dir / CKPT).unlink(missing_ok=True)
