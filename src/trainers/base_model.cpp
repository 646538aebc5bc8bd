#include "src/trainers/base_model.h"

#include <torch/torch.h>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "checkpoints/safetensors.h"
#include "checkpoints/tensor_io.h"
#include "src/index/lineage_index.h"
#include "src/common/crash_point.h"
#include "src/common/error.h"
#include "src/common/hash.h"
#include "src/data/wordpiece.h"
#include "src/workspace/layout.h"

namespace lethe {

namespace {

// Every name and shape of `weights` must be exactly those of `spec`.
void check_weights(const ModelSpec& spec, const Weights& weights, const std::string& where) {
  const std::vector<std::string> problems = weight_problems(spec, weights);
  if (problems.empty()) return;
  const size_t shown = std::min<size_t>(problems.size(), 8);
  fail(ErrorKind::kIntegrity, "{}: {} weight problem(s): {}{}", where, problems.size(),
       fmt::join(problems.begin(), problems.begin() + static_cast<long>(shown), "; "),
       problems.size() > shown ? "; ..." : "");
}

}  // namespace

BaseModel store_base(Workspace& ws, const ModelSpec& spec, const Weights& weights,
                     const BaseProvenance& provenance) {
  check_weights(spec, weights, "base model");
  std::map<std::string, std::string> metadata = {
      {"format", "pt"},
      {"lethe.spec", spec_to_json(spec).dump()},
      {"lethe.source", provenance.source},
  };
  if (!provenance.trained_on_hash.empty()) metadata["lethe.trained_on"] = provenance.trained_on_hash;
  // A checkpoint's own tokenizer travels in the same file, under the same hash.
  if (spec.tokenizer) metadata["lethe.tokenizer"] = spec.tokenizer->to_json().dump();
  const std::string bytes = serialize_safetensors(from_tensors(weights, metadata));
  BaseModel base;
  base.spec = spec;
  base.weights = weights;
  base.hash = blake2b_hex(bytes);
  base.file = "checkpoints/base-" + base.hash.substr(0, 16) + ".safetensors";
  write_file_atomic(ws.root / base.file, bytes);
  crash_point("base.before_commit");  // the file exists, the index does not know it yet

  const std::vector<ComponentRow> previous = live_components(ws.db, "base");
  Transaction txn(ws.db);
  for (const ComponentRow& old : previous) set_component_status(ws.db, old.component_id, "deactivated");
  ComponentRow row;
  row.kind = "base";
  row.file = base.file;
  row.hash = base.hash;
  const int64_t id = insert_component(ws.db, row);
  if (provenance.trained_on_slice >= 0) {
    add_lineage_edge(ws.db, id, provenance.trained_on_slice, provenance.trained_on_hash);
  }
  set_meta(ws.db, "base.file", base.file);
  set_meta(ws.db, "base.hash", base.hash);
  set_meta(ws.db, "base.spec", spec_to_json(spec).dump());
  set_meta(ws.db, "base.source", provenance.source);
  if (!provenance.imported_from.empty()) set_meta(ws.db, "base.imported_from", provenance.imported_from);
  std::vector<int64_t> replaced;
  for (const ComponentRow& old : previous) replaced.push_back(old.component_id);
  record_event(ws, "base.set", {{"component_id", id}, {"file", base.file}, {"hash", base.hash},
                                {"source", provenance.source}, {"imported_from", provenance.imported_from},
                                {"trained_on_slice", provenance.trained_on_slice},
                                {"trained_on_hash", provenance.trained_on_hash}, {"replaced", replaced}});
  txn.commit();
  crash_point("base.after_commit");  // the old base's file is still there
  // The replaced base is no longer referenced; its bytes go (same name = same bytes: keep).
  std::error_code ec;
  for (const ComponentRow& old : previous) {
    if (old.file != base.file) fs::remove(ws.root / old.file, ec);
  }
  return base;
}

BaseModel load_base(Workspace& ws, c10::Device device) {
  const std::vector<ComponentRow> live = live_components(ws.db, "base");
  if (live.empty()) {
    fail(ErrorKind::kNotFound, "workspace '{}' has no base model: run 'lethe pretrain' or "
         "'lethe import-base'", ws.root.string());
  }
  BaseModel base;
  base.file = live.back().file;
  base.hash = live.back().hash;
  const fs::path path = ws.root / base.file;
  const std::string bytes = read_file(path);
  if (blake2b_hex(bytes) != base.hash) {
    fail(ErrorKind::kIntegrity, "base model '{}' does not match the hash recorded in the index; "
         "refusing to use it", path.string());
  }
  const SafetensorsFile file = parse_safetensors(bytes, path.string());
  const auto spec_it = file.metadata.find("lethe.spec");
  if (spec_it == file.metadata.end()) fail(ErrorKind::kIntegrity, "{}: no lethe.spec metadata", path.string());
  base.spec = spec_from_json(nlohmann::json::parse(spec_it->second));
  if (const auto tok = file.metadata.find("lethe.tokenizer"); tok != file.metadata.end()) {
    base.spec.tokenizer = std::make_shared<const WordPiece>(
        WordPiece::from_json(nlohmann::json::parse(tok->second), path.string() + ": lethe.tokenizer"));
  }
  if (base.spec.arch == "bert" && !base.spec.tokenizer) {
    fail(ErrorKind::kIntegrity, "{}: a bert base without its tokenizer (lethe.tokenizer metadata)", path.string());
  }
  base.weights = to_tensors(file);
  check_weights(base.spec, base.weights, path.string());
  if (!device.is_cpu()) {
    for (auto& [name, w] : base.weights) w = w.to(device);
  }
  return base;
}

}  // namespace lethe
