// Node checkpoints: content-addressed, lineage in the metadata, verified on load.
#include "tests/support/catch_torch.h"

#include "checkpoints/node_checkpoint.h"
#include "src/common/error.h"
#include "tests/support/temp_dir.h"

using namespace lethe;

namespace lethe {
// For Catch's messages (glog's vector printer, pulled in by LibTorch, needs the element's).
std::ostream& operator<<(std::ostream& os, const SeenSlice& s) { return os << s.slice << ":" << s.hash; }
}  // namespace lethe

namespace {

NodeCheckpoint sample() {
  NodeCheckpoint n;
  n.meta.shard = 3;
  n.meta.prefix = "2.0";
  n.meta.slices = {{2, "aa11"}, {0, "bb22"}};
  n.meta.base_hash = "base";
  n.meta.parent_hash = "parent";
  n.meta.config_hash = "cfg";
  n.meta.seed = 0xfedcba9876543210ULL;  // above 2^53: must survive as an exact integer
  n.meta.metrics = {{"loss", 0.25}};
  n.meta.trained_with = {"cuda", "2.15.0", "13.2", 3, "NVIDIA H200", "bf16"};
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  n.tensors["base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight"] = torch::randn({4, 8}, gen);
  n.tensors["base_model.model.score.weight"] = torch::randn({3, 8}, gen);
  return n;
}

}  // namespace

TEST_CASE("node checkpoint: written and read back bit for bit with its lineage", "[node]") {
  test::TempDir dir;
  fs::create_directories(dir / "checkpoints");
  const NodeCheckpoint n = sample();
  const WrittenNode w = write_node(dir.path(), n);
  CHECK(w.file.rfind("checkpoints/s3t-s3-p2.0-", 0) == 0);
  CHECK(serialize_node(n) == serialize_node(sample()));  // deterministic bytes
  const NodeCheckpoint back = read_node(dir / w.file, w.hash);
  CHECK(back.meta.slices == n.meta.slices);
  CHECK(back.meta.seed == n.meta.seed);
  CHECK(back.meta.parent_hash == "parent");
  CHECK(back.meta.metrics["loss"] == 0.25);
  CHECK(back.meta.trained_with.device == "cuda");
  CHECK(back.meta.trained_with.libtorch == "2.15.0");
  CHECK(back.meta.trained_with.cuda == "13.2");
  CHECK(back.meta.trained_with.threads == 3);
  CHECK(back.meta.trained_with.gpu == "NVIDIA H200");
  CHECK(back.meta.trained_with.precision == "bf16");
  for (const auto& [name, t] : n.tensors) CHECK(torch::equal(t, back.tensors.at(name)));
}

TEST_CASE("node checkpoint: a replay is claimed bit-identical only under the device and software it trained with",
          "[node]") {
  Numerics here = cpu_numerics();
  CHECK(here.device == "cpu");
  CHECK(here.threads == current_threads());
  CHECK(numerics_mismatch(here, here).empty());
  Numerics other_threads = here;
  other_threads.threads = here.threads + 1;  // the replay sets the recorded count, so no mismatch
  CHECK(numerics_mismatch(other_threads, here).empty());
  Numerics gpu = here;
  gpu.device = "cuda";
  gpu.cuda = "13.2";
  gpu.gpu = "NVIDIA H200";
  CHECK_THAT(numerics_mismatch(gpu, here),
             Catch::Contains("trained on cuda (NVIDIA H200, fp32, LibTorch " + here.libtorch + ", CUDA 13.2)") &&
                 Catch::Contains("runs on cpu"));
  CHECK(numerics_mismatch(gpu, gpu).empty());
  Numerics other_gpu = gpu;  // another GPU model may pick other kernels
  other_gpu.gpu = "NVIDIA H100";
  CHECK_THAT(numerics_mismatch(gpu, other_gpu), Catch::Contains("runs on cuda (NVIDIA H100"));
  Numerics bf16 = gpu;
  bf16.precision = "bf16";
  CHECK_THAT(numerics_mismatch(bf16, gpu), Catch::Contains("NVIDIA H200, bf16"));
  Numerics old_torch = here;
  old_torch.libtorch = "1.13.0";
  CHECK_THAT(numerics_mismatch(old_torch, here), Catch::Contains("cpu (LibTorch 1.13.0)"));
  Numerics unrecorded;  // a node written before the record: replayed as before
  unrecorded.libtorch.clear();
  CHECK(numerics_mismatch(unrecorded, here).empty());
}

TEST_CASE("node checkpoint: a CPU node records no GPU or precision, so its bytes are what they were before GPUs",
          "[node]") {
  NodeCheckpoint cpu = sample();
  cpu.meta.trained_with = cpu_numerics();
  const std::string bytes = serialize_node(cpu);
  CHECK(bytes.find("\\\"device\\\":\\\"cpu\\\"") != std::string::npos);
  CHECK(bytes.find("gpu") == std::string::npos);
  CHECK(bytes.find("precision") == std::string::npos);
  CHECK(serialize_node(sample()).find("\\\"gpu\\\":\\\"NVIDIA H200\\\"") != std::string::npos);
}

TEST_CASE("node checkpoint: a changed file is refused", "[node]") {
  test::TempDir dir;
  fs::create_directories(dir / "checkpoints");
  const WrittenNode w = write_node(dir.path(), sample());
  std::string bytes = read_file(dir / w.file);
  bytes.back() ^= 0x20;
  write_file_atomic(dir / w.file, bytes);
  CHECK_THROWS_MATCHES(read_node(dir / w.file, w.hash), Error, Catch::Predicate<Error>([](const Error& e) {
                         return e.kind() == ErrorKind::kIntegrity;
                       }));
}
