#include "src/serving/hf_export.h"

#include <torch/torch.h>

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>

#include "checkpoints/safetensors.h"
#include "checkpoints/tensor_io.h"
#include "peft/adapter_io.h"
#include "src/common/error.h"
#include "src/common/fs.h"
#include "src/data/wordpiece.h"
#include "src/index/lineage_index.h"
#include "src/serving/ensemble.h"

namespace lethe {

namespace {

nlohmann::json labels_json(const std::vector<std::string>& labels, bool by_name) {
  nlohmann::json j = nlohmann::json::object();
  for (size_t i = 0; i < labels.size(); ++i) {
    if (by_name) j[labels[i]] = i;
    else j[std::to_string(i)] = labels[i];
  }
  return j;
}

// config.json as transformers reads it for the base's architecture.
nlohmann::json hf_config(const ModelSpec& s, const std::vector<std::string>& labels) {
  nlohmann::json j;
  if (s.arch == "llama") {
    j = {{"architectures", {"LlamaForSequenceClassification"}},
         {"model_type", "llama"},
         {"hidden_size", s.hidden_size},
         {"intermediate_size", s.intermediate_size},
         {"num_hidden_layers", s.num_layers},
         {"num_attention_heads", s.num_heads},
         {"num_key_value_heads", s.num_kv_heads},
         {"head_dim", s.head_dim()},
         {"hidden_act", "silu"},
         {"rms_norm_eps", s.rms_norm_eps},
         {"rope_theta", s.rope_theta},
         {"vocab_size", s.vocab_size},
         {"max_position_embeddings", s.max_seq_len},
         {"attention_bias", false},
         {"mlp_bias", false},
         {"tie_word_embeddings", false}};
  } else if (s.arch == "bert") {
    j = {{"architectures", {"BertModel"}},
         {"model_type", "bert"},
         {"hidden_size", s.hidden_size},
         {"intermediate_size", s.intermediate_size},
         {"num_hidden_layers", s.num_layers},
         {"num_attention_heads", s.num_heads},
         {"hidden_act", "gelu"},
         {"layer_norm_eps", s.layer_norm_eps},
         {"max_position_embeddings", s.max_positions},
         {"type_vocab_size", s.type_vocab_size},
         {"vocab_size", s.vocab_size},
         {"position_embedding_type", "absolute"},
         {"pad_token_id", s.tokenizer ? s.tokenizer->pad_id() : 0}};
  } else {
    // No transformers class runs Lethe's ViT or MLP: the spec says what the tensors are.
    j = {{"model_type", "lethe-" + s.arch}, {"lethe_spec", spec_to_json(s)}};
  }
  j["num_labels"] = labels.size();
  j["id2label"] = labels_json(labels, false);
  j["label2id"] = labels_json(labels, true);
  j["torch_dtype"] = "float32";
  return j;
}

void write_json(const fs::path& file, const nlohmann::json& j) { write_file_atomic(file, j.dump(2) + "\n"); }

// BERT's tokenizer as BertTokenizer reads it (vocab.txt and tokenizer_config.json), and
// sentence-transformers' pooling, so that both libraries tokenize and pool as Lethe does.
void write_bert_extras(const fs::path& dir, const ModelSpec& s) {
  const WordPiece& wp = *s.tokenizer;
  std::string vocab;
  for (const std::string& t : wp.vocab()) vocab += t + "\n";
  write_file_atomic(dir / "vocab.txt", vocab);
  const WordPieceOptions& o = wp.options();
  nlohmann::json tc = {{"tokenizer_class", "BertTokenizer"},
                       {"do_lower_case", o.lowercase},
                       {"tokenize_chinese_chars", o.handle_chinese_chars},
                       {"unk_token", o.unk_token},
                       {"cls_token", o.cls_token},
                       {"sep_token", o.sep_token},
                       {"pad_token", o.pad_token},
                       {"model_max_length", s.max_seq_len}};
  tc["strip_accents"] = o.strip_accents ? nlohmann::json(*o.strip_accents) : nlohmann::json();
  write_json(dir / "tokenizer_config.json", tc);
  write_json(dir / "modules.json", nlohmann::json::array({
      {{"idx", 0}, {"name", "0"}, {"path", ""}, {"type", "sentence_transformers.models.Transformer"}},
      {{"idx", 1}, {"name", "1"}, {"path", "1_Pooling"}, {"type", "sentence_transformers.models.Pooling"}}}));
  write_json(dir / "sentence_bert_config.json", {{"max_seq_length", s.max_seq_len}, {"do_lower_case", false}});
  fs::create_directories(dir / "1_Pooling");
  write_json(dir / "1_Pooling" / "config.json", {{"word_embedding_dimension", s.hidden_size},
                                                 {"pooling_mode_cls_token", s.pooling == "cls"},
                                                 {"pooling_mode_mean_tokens", s.pooling == "mean"},
                                                 {"pooling_mode_max_tokens", false},
                                                 {"pooling_mode_mean_sqrt_len_tokens", false}});
}

std::map<std::string, at::Tensor> on_cpu(const std::map<std::string, at::Tensor>& tensors) {
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, t] : tensors) out[name] = t.detach().cpu().contiguous();
  return out;
}

// What vocab.txt + tokenizer_config.json cannot say: such a tokenizer is not exported, rather
// than exported as one that tokenizes differently.
void check_exportable(const WordPiece& wp) {
  const WordPieceOptions& o = wp.options();
  const char* what = !o.clean_text ? "no text clean-up"
                     : o.continuing_subword_prefix != "##" ? "a continuation prefix other than ##"
                     : o.max_input_chars_per_word != 100 ? "a max_input_chars_per_word other than 100"
                                                          : nullptr;
  for (const std::string& t : wp.vocab()) {
    if (t.find_first_of("\r\n") != std::string::npos) what = "a vocabulary token with a line break";
  }
  if (what != nullptr) {
    fail(ErrorKind::kUsage, "the base's tokenizer has {}, which BertTokenizer's files (vocab.txt, "
         "tokenizer_config.json) cannot express; it is not exported", what);
  }
}

// The ledger's head now (seq and hash); null for a workspace without a ledger.
nlohmann::json ledger_head_json(Workspace& ws) {
  const LedgerHead h = ledger_head(ws.db);
  if (h.seq == 0) return nullptr;
  return {{"seq", h.seq}, {"hash", h.hash}};
}

}  // namespace

nlohmann::json export_hf(Workspace& ws, const Config& config, const std::string& mode, const fs::path& out_arg) {
  // "dir/" names dir: without the trailing separator, the temporary sibling lands beside it.
  fs::path out = out_arg.lexically_normal();
  if (!out.has_filename()) out = out.parent_path();
  std::error_code ec;
  if (fs::exists(out, ec)) fail(ErrorKind::kConflict, "{} already exists; export writes a new directory", out.string());
  // The ledger head is read before the view and checked again at the end: a forget that commits
  // in between would otherwise be claimed by a manifest whose files predate it.
  const nlohmann::json head = ledger_head_json(ws);
  const Ensemble e = load_ensemble(ws, config, mode);  // the current view: live components only
  const std::vector<std::string> labels = label_names(ws.db);
  const ModelSpec& spec = e.base.spec;

  const fs::path tmp = out.parent_path() / (out.filename().string() + ".tmp-" + std::to_string(::getpid()));
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp / "base");
  try {
    // The base; BertModel has no score layer, so a bert base's head stays out of it.
    std::map<std::string, at::Tensor> base = on_cpu(e.base.weights);
    if (spec.arch == "bert") base.erase("score.weight");
    write_safetensors(tmp / "base" / "model.safetensors", from_tensors(base, {{"format", "pt"}}));
    write_json(tmp / "base" / "config.json", hf_config(spec, labels));
    if (spec.arch == "bert") {
      check_exportable(*spec.tokenizer);
      write_bert_extras(tmp / "base", spec);
    }

    nlohmann::json shards = nlohmann::json::array();
    for (size_t i = 0; i < e.members.size(); ++i) {
      const MemberModel& m = e.members[i];
      const ShardView& sv = e.view.live[i];
      const std::string name = m.shard < 0 ? "model" : "shard-" + std::to_string(m.shard);
      AdapterExport options;
      options.base_model_name = "../base";
      for (size_t g = 0; g < m.lora.enabled.size(); ++g) {
        if (m.lora.enabled[g]) options.groups.push_back(static_cast<int>(g));
      }
      LoraSet lora = m.lora;
      for (auto& [module, a] : lora.adapters) {
        a.A = a.A.detach().cpu();
        a.B = a.B.detach().cpu();
      }
      const at::Tensor head = m.head.detach().cpu().contiguous();
      fs::create_directories(tmp / name);
      if (spec.arch == "llama") {
        options.modules_to_save["score.weight"] = head;
      } else {
        write_safetensors(tmp / name / "head.safetensors", from_tensors({{"score.weight", head}}, {{"format", "pt"}}));
      }
      options.task_type = spec.arch == "llama" ? "SEQ_CLS" : "FEATURE_EXTRACTION";
      export_adapter(tmp / name, lora, options);
      nlohmann::json components = nlohmann::json::array();
      for (const ComponentRow& c : sv.chain) {
        components.push_back({{"component_id", c.component_id}, {"prefix", c.prefix}, {"hash", c.hash}});
      }
      shards.push_back({{"shard", m.shard}, {"dir", name}, {"sequence", sv.sequence}, {"stages", sv.chain.size()},
                        {"groups", options.groups}, {"components", components}});
    }
    nlohmann::json manifest = {{"format", "lethe-export-1"},
                               {"mode", mode},
                               {"workspace_id", get_meta(ws.db, "workspace_id").value_or("")},
                               {"ledger_head", head},
                               {"base", {{"arch", spec.arch}, {"hash", e.base.hash}, {"dir", "base"}}},
                               {"labels", labels},
                               {"total_shards", e.view.total_shards},
                               {"shards", shards}};
    write_json(tmp / "manifest.json", manifest);
    for (const auto& entry : fs::recursive_directory_iterator(tmp)) {
      if (entry.is_directory()) fsync_path(entry.path());  // files are fsynced as they are written
    }
    fsync_path(tmp);
    if (ledger_head_json(ws) != head) {
      fail(ErrorKind::kConflict, "the workspace's ledger moved on during the export (a forget or a training "
           "committed); nothing was exported: run it again");
    }
    // Never onto a directory that appeared meanwhile (another export): refused, not replaced.
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, out.c_str(), RENAME_NOREPLACE) != 0) {
      if (errno == EEXIST || errno == ENOTEMPTY) {
        fail(ErrorKind::kConflict, "{} appeared during the export; export writes a new directory", out.string());
      }
      fail_errno("cannot rename the export to", out.string());
    }
    fsync_parent(out);
    return manifest;
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace lethe
