#!/usr/bin/env python3
"""Opacus's clipped, summed per-example gradients, for Lethe's DP-SGD to be compared with.

  opacus_check.py clipped-sum --out DIR [--max-grad-norm C]
      Saves a random LlamaForSequenceClassification (DIR/base, save_pretrained), a PEFT LoRA
      adapter on it (DIR/adapter: q_proj and v_proj, r 4, lora_B drawn at random so that every
      gradient is non-zero; the head in modules_to_save), a batch (DIR/batch.safetensors:
      input_ids, labels), and Opacus's clipped sum of the per-example gradients of the
      per-example cross-entropy with noise off (DIR/opacus.safetensors, keyed by Lethe's
      names: <module>.lora_A / <module>.lora_B / score.weight): GradSampleModule computes the
      per-example gradients, DPOptimizer.clip_and_accumulate clips them to C and sums them.
"""
import argparse
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402


def clipped_sum(args):
    from opacus import GradSampleModule
    from opacus.optimizers import DPOptimizer
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForSequenceClassification

    torch.manual_seed(11)
    config = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=176, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=32,
                         rms_norm_eps=1e-6, num_labels=3, pad_token_id=0, tie_word_embeddings=False)
    base = LlamaForSequenceClassification(config).eval()
    base.save_pretrained(os.path.join(args.out, "base"))
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"],
                                            modules_to_save=["score"], task_type="SEQ_CLS"))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.5)
    model.save_pretrained(os.path.join(args.out, "adapter"))

    gen = torch.Generator().manual_seed(12)
    batch = 8
    ids = torch.randint(1, 256, (batch, 12), generator=gen)  # no padding: the last token is pooled
    labels = torch.randint(0, 3, (batch,), generator=gen)
    save_file({"input_ids": ids, "labels": labels}, os.path.join(args.out, "batch.safetensors"))

    model.train()  # Opacus records activations in training mode only (no dropout: all rates are 0)
    gsm = GradSampleModule(model, loss_reduction="sum")
    trained = [(n, p) for n, p in gsm.named_parameters() if p.requires_grad]
    optimizer = DPOptimizer(torch.optim.SGD([p for _, p in trained], lr=0.0), noise_multiplier=0.0,
                            max_grad_norm=args.max_grad_norm, expected_batch_size=batch, loss_reduction="sum")
    optimizer.zero_grad()
    logits = gsm(input_ids=ids).logits
    torch.nn.functional.cross_entropy(logits, labels, reduction="sum").backward()
    optimizer.clip_and_accumulate()

    out = {}
    for name, p in trained:
        # _module.base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight
        n = name.removeprefix("_module.").removeprefix("base_model.model.")
        if ".lora_A." in n or ".lora_B." in n:
            module, matrix = n.split(".lora_")
            key = f"{module}.lora_{matrix[0]}"
        elif n.startswith("score.modules_to_save.default."):
            key = "score.weight"
        else:
            continue  # the head's frozen original copy
        out[key] = p.summed_grad.detach().contiguous()
    save_file(out, os.path.join(args.out, "opacus.safetensors"))
    print(len(out))


def main():
    torch.set_num_threads(2)
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="what", required=True)
    c = sub.add_parser("clipped-sum")
    c.add_argument("--out", required=True)
    c.add_argument("--max-grad-norm", type=float, default=0.5)
    args = p.parse_args()
    clipped_sum(args)


if __name__ == "__main__":
    sys.exit(main())
