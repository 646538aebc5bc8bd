#!/usr/bin/env python3
"""Lethe's exports read by transformers + PEFT, and a PEFT adapter for Lethe to read.

  peft_check.py logits --export DIR --texts FILE --out FILE
      For every shard of a `lethe export` directory: the base with transformers, the shard's
      adapter with peft.PeftModel.from_pretrained, its head; writes {shard dir: [logits per
      text]} as JSON. bert: mean pooling over real tokens, then score.weight from
      head.safetensors; llama: LlamaForSequenceClassification over the texts' UTF-8 bytes
      (Lethe's byte-level tokens), one text at a time.
  peft_check.py train-adapter --base DIR --texts FILE --out DIR
      Makes a LoRA adapter on the BERT base in DIR with PEFT (query and value, r 4, one AdamW
      step on a made-up objective so that lora_B is not zero), saves it with save_pretrained,
      and writes the mean-pooled hidden states of the texts under it to DIR/pooled.safetensors.

Runs offline (HF_HUB_OFFLINE=1).
"""
import argparse
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402


def mean_pooled(model, tok, texts, max_length):
    enc = tok(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def logits(args):
    from peft import PeftModel
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    with open(args.texts, encoding="utf-8") as f:
        texts = json.load(f)
    with open(os.path.join(args.export, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    base_dir = os.path.join(args.export, manifest["base"]["dir"])
    arch = manifest["base"]["arch"]
    with open(os.path.join(base_dir, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    out = {}
    for shard in manifest["shards"]:
        adapter = os.path.join(args.export, shard["dir"])
        with torch.no_grad():
            if arch == "bert":
                tok = AutoTokenizer.from_pretrained(base_dir)
                model = PeftModel.from_pretrained(AutoModel.from_pretrained(base_dir), adapter).eval()
                head = load_file(os.path.join(adapter, "head.safetensors"))["score.weight"]
                result = mean_pooled(model, tok, texts, tok.model_max_length) @ head.T
            elif arch == "llama":
                base = AutoModelForSequenceClassification.from_pretrained(base_dir)
                model = PeftModel.from_pretrained(base, adapter).eval()
                rows = []
                for text in texts:
                    ids = list(text.encode("utf-8"))[: config["max_position_embeddings"]] or [0]
                    rows.append(model(input_ids=torch.tensor([ids])).logits[0])
                result = torch.stack(rows)
            else:
                sys.exit(f"no transformers class runs a {arch} base")
        out[shard["dir"]] = result.tolist()
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f)


def train_adapter(args):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel, AutoTokenizer

    with open(args.texts, encoding="utf-8") as f:
        texts = json.load(f)
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(args.base)
    model = get_peft_model(AutoModel.from_pretrained(args.base),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["query", "value"], lora_dropout=0.0))
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    loss = mean_pooled(model, tok, texts, tok.model_max_length).pow(2).mean()
    loss.backward()
    opt.step()
    model.eval()
    model.save_pretrained(args.out)
    with torch.no_grad():
        save_file({"pooled": mean_pooled(model, tok, texts, tok.model_max_length).contiguous()},
                  os.path.join(args.out, "pooled.safetensors"))


def main():
    torch.set_num_threads(2)
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="what", required=True)
    lg = sub.add_parser("logits")
    lg.add_argument("--export", required=True)
    lg.add_argument("--texts", required=True)
    lg.add_argument("--out", required=True)
    ta = sub.add_parser("train-adapter")
    ta.add_argument("--base", required=True)
    ta.add_argument("--texts", required=True)
    ta.add_argument("--out", required=True)
    args = p.parse_args()
    if args.what == "logits":
        logits(args)
    else:
        train_adapter(args)


if __name__ == "__main__":
    sys.exit(main())
