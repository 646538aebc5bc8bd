// The single table of configuration fields. Every visitor (TOML loader, TOML writer, Markdown
// reference) walks this one function, so a key is declared exactly once with its type, range,
// default (the struct's initialiser) and documentation.
#pragma once

#include <cstdint>

#include "src/config/config.h"
#include "src/config/modes.h"

namespace lethe {

template <class C, class V>
void describe_config(C& c, V& v) {
  v.section("runtime", "How the process runs. These keys may differ between runs of one workspace.");
  v.integer("threads", c.runtime.threads, 0, 1024,
            "LibTorch's threads on the CPU, shared by the matrix products (MKL) and element-wise "
            "work; 0 = one per core (under mpirun: the cores divided among the node's ranks). "
            "Overridden by --threads.");
  v.choice("device", c.runtime.device, {"auto", "cpu", "cuda"},
           "Where training, eval and predict compute: auto takes a GPU when this build has CUDA "
           "and one is visible, else the CPU; cuda fails without one. Under mpirun each rank "
           "takes GPU local_rank % count. Checkpoints are the same format on both. Overridden "
           "by --device.");
  v.choice("precision", c.runtime.precision, {"fp32", "bf16"},
           "bf16: a forward pass's products run in bfloat16 under LibTorch's autocast on the GPU; "
           "weights, adapters, the head and optimizer state stay float32, and DP-SGD stages stay "
           "fp32 (their clipping must bound the gradient applied). GPU only.");
  v.choice("log_level", c.runtime.log_level, {"trace", "debug", "info", "warn", "error", "off"},
           "Verbosity of the log on stderr. Overridden by --log-level.");
  v.real("collective_timeout", c.runtime.collective_timeout, 1.0, 1e6,
         "Seconds a rank of an mpirun job waits for the other ranks of its group in one "
         "collective (a training step's gradient exchange) before it ends the job, naming the "
         "ranks it waited for (exit 75); nodes committed before stay, and a rerun resumes.");

  v.section("data",
            "Where records come from (`lethe ingest`) and how they are split into train, public "
            "and test records. Public records train the base model only and never enter a shard; "
            "test records are for evaluation only.");
  v.choice("source", c.data.source, {"fashion-mnist", "fortunes", "wordnet", "jsonl", "csv"},
           "Input: a built-in Debian dataset or a JSONL/CSV file. Overridden by "
           "`ingest --dataset/--jsonl/--csv`.");
  v.text("path", c.data.path,
         "Input file for jsonl/csv; directory for a built-in dataset (empty = the Debian "
         "package's location).");
  v.integer("limit", c.data.limit, 0, int64_t{1} << 40,
            "Ingest at most this many records (fashion-mnist: training images, plus one test "
            "image per six); 0 = all.");
  v.integer("seed", c.data.seed, 0, INT64_MAX, "Seed for synthetic owners and split selection.");
  v.integer("num_owners", c.data.num_owners, 1, 100000000,
            "fashion-mnist: number of synthetic owners `user-<n>`.");
  v.real("owner_skew", c.data.owner_skew, 0.0, 10.0,
         "fashion-mnist: Zipf exponent of records per owner (0 = uniform).");
  v.strings("categories", c.data.categories,
            "fortunes: category files to read; wordnet: lexicographer files (noun.food, "
            "verb.motion, ...); empty = all.");
  v.integer("category_limit", c.data.category_limit, 0, int64_t{1} << 40,
            "fortunes/wordnet: at most this many records of each category, chosen by a hash of "
            "the record ID seeded with data.seed (balanced classes from unequal files); 0 = all.");
  v.choice("payload", c.data.payload, {"text", "features"},
           "jsonl/csv: what a record's payload is: text (byte-level tokens) or a numeric "
           "feature vector.");
  v.text("id_field", c.data.id_field, "jsonl/csv: field holding the record ID.");
  v.text("owner_field", c.data.owner_field,
         "jsonl/csv: field holding the owner ID (a record without one is its own owner).");
  v.text("text_field", c.data.text_field, "jsonl/csv: field holding the text payload.");
  v.text("label_field", c.data.label_field, "jsonl/csv: field holding the label.");
  v.text("features_field", c.data.features_field,
         "jsonl: field holding the feature array (payload = features).");
  v.strings("feature_columns", c.data.feature_columns,
            "csv: numeric columns forming the feature vector (payload = features).");
  v.text("timestamp_field", c.data.timestamp_field,
         "jsonl/csv: optional field with integer epoch seconds (empty = none).");
  v.strings("labels", c.data.labels,
            "jsonl/csv: the declared label set; a label outside it is an error (empty = "
            "inferred from the data, sorted).");
  v.choice("tokenizer", c.data.tokenizer, {"byte", "sentencepiece"},
           "Text tokenizer: byte-level (tokens are the UTF-8 bytes; no vocabulary) or "
           "SentencePiece trained on the public split only, stored in the workspace.");
  v.integer("vocab_size", c.data.vocab_size, 300, 1000000,
            "sentencepiece: vocabulary size, including the 256 byte-fallback pieces that keep "
            "any input encodable (a small public split may yield fewer pieces).");
  v.real("public_fraction", c.data.public_fraction, 0.0, 1.0,
         "Fraction of owners, chosen by a seeded hash, whose records are public.");
  v.strings("public_owners", c.data.public_owners, "Owners whose records are public.");
  v.real("test_fraction", c.data.test_fraction, 0.0, 0.9,
         "Fraction of records held out for testing, chosen by a seeded hash of the record ID, "
         "when the source has no test split of its own (fashion-mnist has t10k).");

  v.section("plan",
            "How train records are planned into shards and slices. Fixed at the first ingest; "
            "`ingest --append` must use the same values.");
  v.integer("shards", c.plan.shards, 1, 4096, "Number of shards m.");
  v.integer("slices", c.plan.slices, 1, 64, "Slices per shard L.");
  v.choice("strategy", c.plan.strategy, {"owner", "random"},
           "owner: all records of an owner in one slice (balanced bin packing), so deleting an "
           "owner touches one slice; random: seeded shuffle dealt evenly.");
  v.integer("seed", c.plan.seed, 0, INT64_MAX, "Seed of the plan.");

  v.section("model",
            "The architecture of the frozen base model. Sizes left at 0 come from the preset; "
            "fixed once a base exists (`pretrain` or `import-base`).");
  v.choice("arch", c.model.arch, {"auto", "llama", "vit", "mlp"},
           "auto: llama for text, vit for images, mlp for feature vectors. llama: decoder-only "
           "transformer with Hugging Face Llama names (RMSNorm, RoPE, SwiGLU, causal attention), "
           "classification by last-token pooling; vit: the same blocks over 7x7-pixel patches "
           "(bidirectional, mean pooling); mlp: residual feed-forward blocks.");
  v.choice("preset", c.model.preset, {"tiny", "small"},
           "Sizes: tiny (hidden 64, 4 layers; the demo, minutes on 2 cores) or small (hidden "
           "512, 8 layers; benchmarks).");
  v.integer("hidden_size", c.model.hidden_size, 0, 65536, "Hidden size (0 = preset).");
  v.integer("num_layers", c.model.num_layers, 0, 1024,
            "Transformer blocks (0 = preset); must be a multiple of plan.slices, one LoRA group "
            "per slice.");
  v.integer("num_heads", c.model.num_heads, 0, 1024, "Attention heads (0 = preset).");
  v.integer("intermediate_size", c.model.intermediate_size, 0, 262144,
            "Feed-forward size (0 = preset).");
  v.integer("max_seq_len", c.model.max_seq_len, 0, 65536,
            "llama: tokens per record; longer texts are truncated (0 = preset).");
  v.integer("patch_size", c.model.patch_size, 0, 28, "vit: patch side in pixels (0 = preset).");

  v.section("lora",
            "LoRA adapters on the frozen base, with Hugging Face PEFT's names and semantics. "
            "The blocks are split top-down into one LoRA group per slice.");
  v.integer("r", c.lora.r, 1, 4096, "Rank of each adapter.");
  v.real("lora_alpha", c.lora.lora_alpha, 0.0, 1e6,
         "Scaling numerator: the update is (lora_alpha / r) * B A x, or lora_alpha / sqrt(r) "
         "with use_rslora.");
  v.real("lora_dropout", c.lora.lora_dropout, 0.0, 0.99,
         "Dropout on the adapter's input while training.");
  v.boolean("use_rslora", c.lora.use_rslora, "Rank-stabilised scaling lora_alpha / sqrt(r).");
  v.strings("target_modules", c.lora.target_modules,
            "Linear layers that get adapters: a layer matches when its name equals an entry or "
            "ends with '.' + entry (PEFT's rule), e.g. q_proj, v_proj, gate_proj, fc; "
            "\"all-linear\" selects every Linear in the blocks.");

  v.section("pretrain",
            "Training the base model (`lethe pretrain`) on the public split only: public "
            "records never enter a shard, so the base depends on no deletable record.");
  v.integer("epochs", c.pretrain.epochs, 1, 100000, "Passes over the public split.");
  v.integer("batch_size", c.pretrain.batch_size, 1, 65536, "Records per step.");
  v.integer("micro_batch", c.pretrain.micro_batch, 0, 65536,
            "Records per micro-batch; 0 = the whole batch. As train.micro_batch: under mpirun every "
            "rank computes a share of each step's micro-batches and their gradients are summed in "
            "micro-batch order, so the base is the same for any rank count; without micro-batches "
            "rank 0 pretrains alone. Below batch_size it changes the base's bytes even on one rank.");
  v.real("lr", c.pretrain.lr, 0.0, 10.0, "AdamW learning rate.");
  v.real("weight_decay", c.pretrain.weight_decay, 0.0, 10.0, "AdamW weight decay.");
  v.real("lm_loss_weight", c.pretrain.lm_loss_weight, 0.0, 100.0,
         "llama: weight of the next-token (language-model) loss added to the classification "
         "loss.");
  v.integer("seed", c.pretrain.seed, 0, INT64_MAX, "Seed of initialisation and batch order.");

  v.section("train",
            "Training on the private shards (`lethe train`). S3T: per shard, B sequences "
            "(orders of its slices); stage i of a sequence trains LoRA group i (from the top) "
            "and a head on its first i slices, earlier groups frozen. Sequences sharing a "
            "prefix share its stages.");
  v.choice("mode", c.train.mode, mode_names(),
           "s3t: sequence-aware sharded sliced training; sisa: per shard one model trained "
           "slice by slice, a checkpoint after each (the SISA baseline); full: one model on all "
           "train data (the retrain-from-scratch baseline); dp2: DP2Unlearning, a differentially "
           "private adaptation on all train data, fine-tuned without noise for deployment "
           "([privacy]). All use the same base and LoRA settings; `lethe eval` serves this mode.");
  v.integer("sequences", c.train.sequences, 1, 1000, "Sequences per shard (B).");
  v.choice("selection", c.train.selection, {"cyclic", "bms"},
           "cyclic: the first B rotations of the slices (then rotated suffixes); bms: "
           "bipartite selection that puts likely-deleted slices late (needs B <= slices).");
  v.reals("deletion_probabilities", c.train.deletion_probabilities, 0.0, 1e9,
          "bms: relative deletion probability of each slice (empty = uniform).");
  v.text("owner_priors", c.train.owner_priors,
           "bms: CSV file of `owner,probability` lines, each owner's chance of asking for deletion; "
           "a slice's probability is 1 - prod(1 - p) over its owners, per shard (exclusive with "
           "deletion_probabilities).");
  v.real("default_owner_prior", c.train.default_owner_prior, 0.0, 1.0,
         "bms: deletion probability of owners that owner_priors does not list.");
  v.real("expected_deletions", c.train.expected_deletions, 0.0, 1e9,
         "bms: the number of deletions t the sequences should survive.");
  v.integer("epochs_per_stage", c.train.epochs_per_stage, 1, 100000, "Passes over a stage's data (full: over all train data).");
  v.integer("batch_size", c.train.batch_size, 1, 65536, "Records per step.");
  v.integer("micro_batch", c.train.micro_batch, 0, 65536,
            "Records per micro-batch (DP-SGD steps: privacy units); 0 = the whole batch. A step's "
            "micro-batches are spread over the ranks that train a node together (mpirun with more "
            "ranks than work units, and full and dp2, which have one unit) and their gradients summed "
            "in micro-batch order, so the checkpoints are the same for any rank count (at the same threads "
            "per rank); a unit gets "
            "at most batch_size / micro_batch ranks. Below batch_size it changes the arithmetic "
            "(and so the nodes' bytes) even on one rank.");
  v.real("lr", c.train.lr, 0.0, 10.0, "AdamW learning rate for the adapters and the head.");
  v.choice("lr_schedule", c.train.lr_schedule, {"constant", "linear", "cosine"},
           "Learning rate over each node's steps after warmup: constant, linear decay to 0, or "
           "cosine decay to 0.");
  v.real("warmup_ratio", c.train.warmup_ratio, 0.0, 1.0,
         "Fraction of each node's steps over which the learning rate rises linearly from 0.");
  v.real("weight_decay", c.train.weight_decay, 0.0, 10.0, "AdamW weight decay.");
  v.real("lm_loss_weight", c.train.lm_loss_weight, 0.0, 100.0,
         "llama: weight of the next-token loss added to the classification loss (0 = off).");
  v.integer("seed", c.train.seed, 0, INT64_MAX,
            "Seed; each node derives its own from it, its identity and its slices' hashes.");

  v.section("privacy",
            "DP2Unlearning (train.mode = \"dp2\"): stage 1 trains the adapters and head with "
            "DP-SGD (Poisson sampling, clipping, Gaussian noise) on all train data; stage 2 "
            "fine-tunes them without noise on all current data and is what serves. A deletion "
            "switches stage 2 off at once; retraining fine-tunes the DP stage again on the "
            "retained data. The deleted data's influence on what serves is then bounded by the "
            "DP stage's (epsilon, delta) (docs/dp2.md).");
  v.real("target_epsilon", c.privacy.target_epsilon, 0.001, 1000.0,
         "Privacy the DP stage may spend, over all its steps; the noise multiplier is the "
         "smallest that reaches it.");
  v.real("delta", c.privacy.delta, 1e-15, 0.1,
         "delta of the guarantee; must be below 1 / (privacy units trained on).");
  v.real("max_grad_norm", c.privacy.max_grad_norm, 1e-6, 1e6,
         "Clipping norm C of each privacy unit's gradient.");
  v.choice("unit", c.privacy.unit, {"record", "owner"},
           "What the guarantee protects: one record, or one owner with all of their records "
           "(owners are sampled, and each owner's summed gradient is clipped). Forgetting an "
           "owner needs `owner`.");
  v.choice("clipping", c.privacy.clipping, {"flat", "per_layer"},
           "flat: the whole gradient clipped to C; per_layer: each trained layer to "
           "C / sqrt(layers).");
  v.choice("accountant", c.privacy.accountant, {"rdp", "prv"},
           "Privacy accountant that sets the noise and reports epsilon: rdp (Renyi DP of the "
           "sampled Gaussian mechanism, Opacus's orders and conversion) or prv (numerical "
           "composition of privacy loss random variables, Gopi et al. 2021: tighter, and the "
           "only one that certifies small epsilon at tiny delta such as 1e-12). Every reported "
           "epsilon names its accountant.");
  v.integer("epochs", c.privacy.epochs, 1, 100000,
            "Expected passes over the privacy units (sampling rate train.batch_size / units).");
  v.integer("finetune_epochs", c.privacy.finetune_epochs, 1, 100000,
            "Passes of the deployed model's non-private fine-tuning over the data, at training and "
            "at every retraining after deletions (the cost DP2Unlearning saves against retraining "
            "from scratch, which takes train.epochs_per_stage).");
  v.real("epsilon_budget", c.privacy.epsilon_budget, 0.0, 1e6,
         "Largest epsilon the deletions since the DP stage was trained may reach by group "
         "privacy (k deleted units: k epsilon); a forget beyond it is refused unless it also "
         "switches the DP stage off (`forget --retrain-dp-base`). 0 = no budget.");
  v.choice("after_forget", c.privacy.after_forget, {"dp_base", "nothing"},
           "What serves between a deletion and the retraining: the DP stage alone (it is "
           "(epsilon, delta)-DP with respect to the deleted data) or nothing.");

  v.section("retrain",
            "The policy of `lethe retrain --if-needed` (a scheduled job): it retrains the nodes "
            "that deletions switched off when any of these rules holds; 0 turns a rule off. "
            "Plain `lethe retrain` retrains whatever is missing regardless.");
  v.integer("after_deletions", c.retrain.after_deletions, 0, INT64_MAX,
            "Retrain once this many records have been deleted since the mode last finished "
            "training.");
  v.integer("min_prefix", c.retrain.min_prefix, 0, 100000,
            "Retrain when some shard's longest live prefix is shorter than this many slices.");
  v.integer("min_live_shards", c.retrain.min_live_shards, 0, 100000,
            "Retrain when fewer shards than this can serve.");
  v.choice("policy", c.retrain.policy, {"all", "service"},
           "What a retraining run trains: all, every node deletions switched off; service, the "
           "least work that gives every shard a whole sequence again (per shard the sequence "
           "whose missing nodes hold the fewest records; the others stay off for a later run "
           "with policy all). Overridden by `retrain --policy`.");

  v.section("serve",
            "The prediction service (`lethe serve`): HTTP on loopback by default, predictions from "
            "the live view, deletions that take effect before they are acknowledged.");
  v.text("host", c.serve.host, "Address to listen on. Overridden by `serve --host`.");
  v.integer("port", c.serve.port, 0, 65535,
            "Port to listen on; 0 = any free port (the bound port is printed). Overridden by "
            "`serve --port`.");
  v.integer("threads", c.serve.threads, 1, 1024, "HTTP worker threads (concurrent connections served).");
  v.integer("max_body_bytes", c.serve.max_body_bytes, 1024, int64_t{1} << 32,
            "Largest request body; a larger one is refused with 413 before it is read whole.");
  v.integer("max_batch", c.serve.max_batch, 1, 65536,
            "Most records one model pass answers: concurrent requests are batched up to this.");
  v.real("max_wait_ms", c.serve.max_wait_ms, 0.0, 10000.0,
         "How long a model pass waits for more requests to batch once one has arrived.");
  v.real("purge_interval_ms", c.serve.purge_interval_ms, 0.0, 60000.0,
         "Least time between two purges: the forgets acknowledged meanwhile share one rewrite of "
         "their slice files (each forget is in force at its acknowledgement; this bounds how long "
         "its bytes stay on disk after it, besides the purge itself).");
  v.text("token_file", c.serve.token_file,
         "File holding the bearer token that `POST /v1/forget` requires (mode 0600); empty = "
         "serve.token in the workspace, created by `init` (or by the first `serve`).");
}

}  // namespace lethe
