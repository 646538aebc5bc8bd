// Lethe's configuration: one plain struct per TOML section, validated when loaded.
// Precedence, lowest first: built-in defaults, the workspace's lethe.toml, --config FILE,
// --set key=value, dedicated flags (--threads, --device, --log-level). docs/config.md is generated from
// the same field table (`lethe config docs`), so code and documentation cannot drift apart.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "src/common/fs.h"
#include "src/config/modes.h"

namespace lethe {

struct RuntimeConfig {
  int64_t threads = 0;            // 0 = one per core
  std::string device = "auto";    // auto | cpu | cuda (src/common/device.h)
  std::string precision = "fp32"; // fp32 | bf16 (GPU only)
  std::string log_level = "info";
  double collective_timeout = 600;  // seconds a rank waits in a collective before ending the job
};

// Where records come from and how they are split into train / public / test.
struct DataConfig {
  std::string source = "fashion-mnist";  // fashion-mnist | fortunes | wordnet | jsonl | csv
  std::string path;                      // input file (jsonl, csv) or directory (built-in)
  int64_t limit = 0;                     // 0 = all records
  int64_t seed = 42;
  // Built-in datasets.
  int64_t num_owners = 2000;  // fashion-mnist: synthetic owners user-<n>
  double owner_skew = 1.1;    // fashion-mnist: Zipf exponent of records per owner
  std::vector<std::string> categories;  // fortunes: category files; wordnet: lexnames (empty = all)
  int64_t category_limit = 0;           // fortunes, wordnet: records per category (0 = all)
  // JSONL / CSV field mapping.
  std::string payload = "text";  // text | features
  std::string id_field = "id";
  std::string owner_field = "owner";
  std::string text_field = "text";
  std::string label_field = "label";
  std::string features_field = "features";
  std::vector<std::string> feature_columns;
  std::string timestamp_field;
  std::vector<std::string> labels;  // declared label set (empty = inferred)
  // Text tokenizer.
  std::string tokenizer = "byte";  // byte | sentencepiece
  int64_t vocab_size = 4000;       // sentencepiece
  // Splits.
  double public_fraction = 0.1;  // fraction of owners whose records are public
  std::vector<std::string> public_owners;
  double test_fraction = 0.1;  // when the source has no test split of its own
};

// How train records are planned into shards and slices.
struct PlanConfig {
  int64_t shards = 4;
  int64_t slices = 4;
  std::string strategy = "owner";  // owner | random
  int64_t seed = 42;
};

// The model architecture. Sizes left at 0 come from the preset.
struct ModelConfig {
  std::string arch = "auto";   // auto | llama | vit | mlp (auto: from the workspace's payload)
  std::string preset = "tiny";  // tiny | small
  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t intermediate_size = 0;
  int64_t max_seq_len = 0;  // llama: tokens per record (longer texts are truncated)
  int64_t patch_size = 0;   // vit
};

// LoRA adapters, named as in Hugging Face PEFT.
struct LoraConfig {
  int64_t r = 8;
  double lora_alpha = 16;
  double lora_dropout = 0.0;
  bool use_rslora = false;
  std::vector<std::string> target_modules = {"q_proj", "v_proj"};
};

// Training the base model on the public split (`lethe pretrain`).
struct PretrainConfig {
  int64_t epochs = 3;
  int64_t batch_size = 32;
  int64_t micro_batch = 0;  // rows per micro-batch (0 = the whole batch): what ranks share
  double lr = 1e-3;
  double weight_decay = 0.01;
  double lm_loss_weight = 1.0;  // llama: weight of the next-token loss beside classification
  int64_t seed = 42;
};

// Training on the private shards (`lethe train`).
struct TrainConfig {
  std::string mode = mode_name(kDefaultMode);  // a name of src/config/modes.h: s3t | sisa | full | dp2
  int64_t sequences = 2;                   // B per shard
  std::string selection = "cyclic";        // cyclic | bms
  std::vector<double> deletion_probabilities;  // bms: per slice (empty = uniform)
  std::string owner_priors;                // bms: CSV "owner,probability" (per-shard slice priors)
  double default_owner_prior = 0.0;        // bms: for owners the file does not list
  double expected_deletions = 1.0;         // bms: t
  int64_t epochs_per_stage = 2;
  int64_t batch_size = 32;
  int64_t micro_batch = 0;  // rows per micro-batch (0 = the whole batch): what ranks share
  double lr = 2e-3;
  std::string lr_schedule = "constant";  // constant | linear | cosine (per node, after warmup)
  double warmup_ratio = 0.0;             // fraction of a node's steps with linear warmup
  double weight_decay = 0.0;
  double lm_loss_weight = 1.0;  // llama: weight of the next-token loss beside classification
  int64_t seed = 42;
};

// DP2Unlearning (train.mode = "dp2"): the differentially private base adaptation, what it
// protects, and what may serve after a deletion.
struct PrivacyConfig {
  double target_epsilon = 2.0;
  double delta = 1e-5;
  double max_grad_norm = 1.0;
  std::string unit = "owner";          // record | owner
  std::string clipping = "flat";       // flat | per_layer
  std::string accountant = "rdp";      // rdp | prv
  int64_t epochs = 2;                  // expected passes over the privacy units
  int64_t finetune_epochs = 1;         // the deployed model's passes over the data
  double epsilon_budget = 0;           // largest group-privacy epsilon of the deletions (0 = none)
  std::string after_forget = "dp_base";  // dp_base | nothing: what serves until retraining
};

// When `lethe retrain --if-needed` retrains (any rule that holds is enough; 0 turns a rule off).
struct RetrainConfig {
  int64_t after_deletions = 1;  // records deleted since the last complete training of the mode
  int64_t min_prefix = 0;       // some shard's best live prefix is shorter than this
  int64_t min_live_shards = 0;  // fewer shards than this can serve
  std::string policy = "all";   // all | service: what a retraining run trains
};

// The prediction service (`lethe serve`).
struct ServeConfig {
  std::string host = "127.0.0.1";
  int64_t port = 8080;
  int64_t threads = 8;                   // HTTP worker threads
  int64_t max_body_bytes = 4 << 20;      // larger bodies: 413
  int64_t max_batch = 64;                // records per model pass
  double max_wait_ms = 2.0;              // how long a pass waits for more requests
  double purge_interval_ms = 1000.0;     // purges start at most this often; forgets between share one
  std::string token_file;                // bearer token of /v1/forget; empty = <workspace>/serve.token
};

struct Config {
  RuntimeConfig runtime;
  DataConfig data;
  PlanConfig plan;
  ModelConfig model;
  LoraConfig lora;
  PretrainConfig pretrain;
  TrainConfig train;
  PrivacyConfig privacy;
  RetrainConfig retrain;
  ServeConfig serve;
};

// Overlays the keys present in a TOML file onto `config`. Every error (syntax, unknown key,
// wrong type, value out of range) is ErrorKind::kUsage naming the file, line and key, and what
// was expected. On error `config` is left unchanged.
void load_config_file(const fs::path& path, Config& config);
void load_config_text(std::string_view text, const std::string& source, Config& config);

// Applies one "section.key=value" override; the value is TOML (bare words are taken as strings).
void apply_config_override(std::string_view assignment, Config& config);

// The complete resolved configuration as TOML, every key present, with its documentation as
// comments. Loading the result gives back the same Config.
std::string config_to_toml(const Config& config);

// Markdown reference of every section and key with type, default, allowed values and meaning.
std::string config_reference_markdown();

bool operator==(const Config& a, const Config& b);

}  // namespace lethe
