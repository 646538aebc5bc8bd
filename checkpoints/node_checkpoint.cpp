#include "checkpoints/node_checkpoint.h"

#include "checkpoints/safetensors.h"
#include "checkpoints/tensor_io.h"
#include "src/common/error.h"
#include "src/common/hash.h"

namespace lethe {

namespace {

constexpr const char* kMetaKey = "lethe.node";

// The GPU's name and the precision are written for GPU nodes only: a CPU node's bytes stay what
// they were before GPUs were recorded (its precision is always fp32).
nlohmann::json trained_with_json(const Numerics& n) {
  nlohmann::json j = {{"device", n.device}, {"libtorch", n.libtorch}, {"cuda", n.cuda}, {"threads", n.threads}};
  if (n.device != "cpu") {
    j["gpu"] = n.gpu;
    j["precision"] = n.precision;
  }
  return j;
}

nlohmann::json meta_json(const NodeMeta& m) {
  nlohmann::json slices = nlohmann::json::array();
  for (const SeenSlice& s : m.slices) slices.push_back({{"slice", s.slice}, {"hash", s.hash}});
  return {{"kind", m.kind},           {"shard", m.shard},         {"prefix", m.prefix},
          {"slices", slices},         {"base_hash", m.base_hash},
          {"parent_hash", m.parent_hash}, {"config_hash", m.config_hash},
          {"seed", std::to_string(m.seed)},  // as text: JSON numbers lose 64-bit precision elsewhere
          {"metrics", m.metrics},
          {"trained_with", trained_with_json(m.trained_with)}};
}

NodeMeta meta_from_json(const nlohmann::json& j) {
  NodeMeta m;
  m.kind = j.at("kind").get<std::string>();
  m.shard = j.at("shard").get<int>();
  m.prefix = j.at("prefix").get<std::string>();
  for (const auto& s : j.at("slices")) m.slices.push_back({s.at("slice").get<int>(), s.at("hash").get<std::string>()});
  m.base_hash = j.at("base_hash").get<std::string>();
  m.parent_hash = j.at("parent_hash").get<std::string>();
  m.config_hash = j.at("config_hash").get<std::string>();
  m.seed = std::stoull(j.at("seed").get<std::string>());
  m.metrics = j.at("metrics");
  if (j.contains("trained_with")) {  // absent in nodes written before it was recorded: libtorch stays empty
    const nlohmann::json& t = j.at("trained_with");
    m.trained_with.device = t.at("device").get<std::string>();
    m.trained_with.libtorch = t.at("libtorch").get<std::string>();
    m.trained_with.cuda = t.at("cuda").get<std::string>();
    m.trained_with.threads = t.at("threads").get<int>();
    m.trained_with.gpu = t.value("gpu", "");
    m.trained_with.precision = t.value("precision", "fp32");
  }
  return m;
}

}  // namespace

std::string serialize_node(const NodeCheckpoint& node) {
  return serialize_safetensors(
      from_tensors(node.tensors, {{"format", "pt"}, {kMetaKey, meta_json(node.meta).dump()}}));
}

WrittenNode write_node(const fs::path& root, const NodeCheckpoint& node) {
  const std::string bytes = serialize_node(node);
  WrittenNode out;
  out.hash = blake2b_hex(bytes);
  const std::string where = node.meta.shard >= 0 ? "-s" + std::to_string(node.meta.shard) : "";
  out.file = "checkpoints/" + node.meta.kind + where + "-p" + node.meta.prefix + "-" + out.hash.substr(0, 16) +
             ".safetensors";
  write_file_atomic(root / out.file, bytes);
  return out;
}

NodeCheckpoint read_node(const fs::path& path, const std::string& expected_hash) {
  const std::string bytes = read_file(path);
  if (blake2b_hex(bytes) != expected_hash) {
    fail(ErrorKind::kIntegrity, "node checkpoint '{}' does not match the hash recorded in the "
         "index; refusing to use it", path.string());
  }
  const SafetensorsFile file = parse_safetensors(bytes, path.string());
  NodeCheckpoint node;
  const auto it = file.metadata.find(kMetaKey);
  if (it == file.metadata.end()) fail(ErrorKind::kIntegrity, "{}: no {} metadata", path.string(), kMetaKey);
  try {
    node.meta = meta_from_json(nlohmann::json::parse(it->second));
  } catch (const std::exception& e) {
    fail(ErrorKind::kIntegrity, "{}: malformed {} metadata: {}", path.string(), kMetaKey, e.what());
  }
  node.tensors = to_tensors(file);
  return node;
}

}  // namespace lethe
