#!/usr/bin/env python3
"""The step `lethe bench train-step` times, as a Python user would write it: Hugging Face
transformers' LlamaForSequenceClassification (default attention implementation) with PEFT LoRA
on q_proj and v_proj, cross-entropy, AdamW on the adapters; with --dp, the same step under
Opacus (GradSampleModule + DPOptimizer, per-example clipping to 1.0, noise multiplier 1.0).
Same torch as Lethe's LibTorch, same threads, same sizes and synthetic tokens; prints one JSON
object. `lethe bench train-step --compare-python` runs it and prints the ratio.
"""
import argparse
import json
import os
import sys
import time
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# Lethe passes this script's stderr through; under --json it must stay free of library chatter.
warnings.filterwarnings("ignore")

import torch  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    for name in ("hidden", "layers", "heads", "intermediate", "seq", "batch", "steps", "threads", "r"):
        p.add_argument("--" + name, type=int, required=True)
    p.add_argument("--alpha", type=float, required=True)
    p.add_argument("--dropout", type=float, required=True)
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--dp", action="store_true")
    p.add_argument("--out", help="write the JSON here instead of printing it")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForSequenceClassification

    torch.manual_seed(1)
    config = LlamaConfig(vocab_size=256, hidden_size=a.hidden, intermediate_size=a.intermediate,
                         num_hidden_layers=a.layers, num_attention_heads=a.heads, num_key_value_heads=a.heads,
                         max_position_embeddings=a.seq, num_labels=4, pad_token_id=0)
    lora = LoraConfig(r=a.r, lora_alpha=a.alpha, lora_dropout=a.dropout, target_modules=["q_proj", "v_proj"],
                      task_type="SEQ_CLS")
    model = get_peft_model(LlamaForSequenceClassification(config), lora)
    model.train()
    gen = torch.Generator().manual_seed(3)
    ids = torch.randint(1, 256, (a.batch, a.seq), generator=gen)  # no pad token: the last one is pooled
    labels = torch.randint(0, 4, (a.batch,), generator=gen)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=a.lr)

    def step():
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(input_ids=ids).logits, labels).backward()
        optimizer.step()

    def timed(one):
        for _ in range(2):
            one()
        t0 = time.perf_counter()
        for _ in range(a.steps):
            one()
        return time.perf_counter() - t0

    seconds = timed(step)
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(),
              "seconds_per_step": seconds / a.steps, "tokens_per_s": a.batch * a.seq * a.steps / seconds}
    if a.dp:
        from opacus import GradSampleModule
        from opacus.optimizers import DPOptimizer

        gsm = GradSampleModule(model, loss_reduction="mean")
        dp_optimizer = DPOptimizer(torch.optim.AdamW(params, lr=a.lr), noise_multiplier=1.0, max_grad_norm=1.0,
                                   expected_batch_size=a.batch)

        def dp_step():
            dp_optimizer.zero_grad()
            torch.nn.functional.cross_entropy(gsm(input_ids=ids).logits, labels).backward()
            dp_optimizer.step()

        dp_seconds = timed(dp_step)
        import opacus
        result.update({"opacus": opacus.__version__, "dp_seconds_per_step": dp_seconds / a.steps})
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            json.dump(result, f)
    else:
        print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
