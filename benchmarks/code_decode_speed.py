"""The code evaluation's decoder against `model.generate` on real HumanEval prompts: wall time, tokens decoded,
and whether the greedy completions agree (cut at their stops, as scored).

    python benchmarks/code_decode_speed.py --model gemma3-270m --problems 32 --batch-size 16 --max-new-tokens 256

`generate` keeps a stopped row in its batch until the last row stops; `tasks/code/decode.complete` drops it
(KV-cache rows included). Nothing is executed. Prints one JSON line and writes it to --out if given.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from harness.api.models import load_causal_lm
from tasks.code import benchmarks
from tasks.code.decode import complete


class StopOnSequences:
    """`generate`'s per-row stop: a row is done once its generated text (not the prompt) holds a stop."""

    def __init__(self, tok, prompt_len: int, stops):
        self.tok, self.prompt_len, self.stops = tok, prompt_len, stops

    def __call__(self, input_ids, scores, **kwargs):
        texts = self.tok.batch_decode(input_ids[:, self.prompt_len:], skip_special_tokens=True)
        return torch.tensor([any(s in t for s in self.stops) for t in texts], device=input_ids.device)


@torch.no_grad()
def with_generate(model, tok, prompts, stops, max_new_tokens):
    from transformers import StoppingCriteriaList

    tok.padding_side = "left"
    enc = tok(prompts, return_tensors="pt", padding=True)
    width = enc["input_ids"].shape[1]
    ids = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id,
                         stopping_criteria=StoppingCriteriaList([StopOnSequences(tok, width, stops)]))
    return tok.batch_decode(ids[:, width:], skip_special_tokens=True), ids.shape[0] * (ids.shape[1] - width)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="gemma3-270m")
    ap.add_argument("--problems", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    model, tok = load_causal_lm(args.model)
    model.eval()
    problems = benchmarks.load("humaneval")[:args.problems]
    stops = problems[0].stops
    result = {"model": args.model, "problems": len(problems), "batch_size": args.batch_size,
              "max_new_tokens": args.max_new_tokens, "threads": torch.get_num_threads()}
    outputs = {}
    for name in ("generate", "complete"):
        t0, texts, positions = time.perf_counter(), [], 0
        for i in range(0, len(problems), args.batch_size):
            prompts = [p.prompt for p in problems[i:i + args.batch_size]]
            if name == "generate":
                got, n = with_generate(model, tok, prompts, stops, args.max_new_tokens)
                positions += n
            else:
                got = complete(model, tok, prompts, stops, max_new_tokens=args.max_new_tokens)
                positions += sum(len(tok(t, add_special_tokens=False)["input_ids"]) for t in got)
            texts += [benchmarks.cut(t, stops) for t in got]
        outputs[name] = texts
        result[f"{name}_s"] = round(time.perf_counter() - t0, 1)
        result[f"{name}_tokens"] = positions      # generate: rows x steps; complete: completion tokens
    result["same_completions"] = sum(a == b for a, b in zip(outputs["generate"], outputs["complete"]))
    result["speedup"] = round(result["generate_s"] / result["complete_s"], 2)
    print(json.dumps(result))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({**result, "command": "python benchmarks/code_decode_speed.py " + " ".join(
                f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out" and v is not None)}, f, indent=1)


if __name__ == "__main__":
    main()
