// The base model store: content-addressed, hash-checked on load, replaced atomically.
#include "tests/support/catch_torch.h"

#include "src/index/lineage_index.h"
#include "src/common/error.h"
#include "src/common/fs.h"
#include "src/trainers/base_model.h"
#include "src/workspace/workspace.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tiny_models.h"

using namespace lethe;

namespace {

ModelSpec tiny_mlp() { return test::tiny_mlp(4, 3); }

BaseProvenance imported() {
  BaseProvenance p;
  p.source = "import";
  return p;
}

}  // namespace

TEST_CASE("base model: stored and loaded back bit for bit", "[base]") {
  test::TempDir dir;
  create_workspace(dir / "ws", {}, {});
  WritableWorkspace writable = open_workspace_for_write(dir / "ws", "test");
  Workspace& ws = writable.ws;
  const Weights w = init_weights(tiny_mlp(), 1);
  const BaseModel stored = store_base(ws, tiny_mlp(), w, imported());
  CHECK(stored.file.rfind("checkpoints/base-", 0) == 0);
  const BaseModel loaded = load_base(ws);
  CHECK(loaded.hash == stored.hash);
  CHECK(loaded.spec == tiny_mlp());
  for (const auto& [name, t] : w) CHECK(torch::equal(t, loaded.weights.at(name)));
}

TEST_CASE("base model: a changed or missing file is refused", "[base]") {
  test::TempDir dir;
  create_workspace(dir / "ws", {}, {});
  WritableWorkspace writable = open_workspace_for_write(dir / "ws", "test");
  Workspace& ws = writable.ws;
  CHECK_THROWS_MATCHES(load_base(ws), Error, Catch::Predicate<Error>([](const Error& e) {
                         return e.kind() == ErrorKind::kNotFound;
                       }));
  const BaseModel stored = store_base(ws, tiny_mlp(), init_weights(tiny_mlp(), 1), imported());
  std::string bytes = read_file(ws.root / stored.file);
  bytes[bytes.size() - 3] ^= 0x01;  // one bit of one weight
  write_file_atomic(ws.root / stored.file, bytes);
  CHECK_THROWS_MATCHES(load_base(ws), Error, Catch::Predicate<Error>([](const Error& e) {
                         return e.kind() == ErrorKind::kIntegrity &&
                                std::string(e.what()).find("hash") != std::string::npos;
                       }));
  fs::remove(ws.root / stored.file);
  CHECK_THROWS_AS(load_base(ws), Error);
}

TEST_CASE("base model: a new base deactivates the old one and removes its file", "[base]") {
  test::TempDir dir;
  create_workspace(dir / "ws", {}, {});
  WritableWorkspace writable = open_workspace_for_write(dir / "ws", "test");
  Workspace& ws = writable.ws;
  const BaseModel first = store_base(ws, tiny_mlp(), init_weights(tiny_mlp(), 1), imported());
  const BaseModel second = store_base(ws, tiny_mlp(), init_weights(tiny_mlp(), 2), imported());
  CHECK(first.hash != second.hash);
  CHECK_FALSE(fs::exists(ws.root / first.file));
  CHECK(load_base(ws).hash == second.hash);
  const auto live = live_components(ws.db, "base");
  REQUIRE(live.size() == 1);
  CHECK(live[0].hash == second.hash);
}

TEST_CASE("base model: weights of another shape are refused before anything is written", "[base]") {
  test::TempDir dir;
  create_workspace(dir / "ws", {}, {});
  WritableWorkspace writable = open_workspace_for_write(dir / "ws", "test");
  Workspace& ws = writable.ws;
  Weights w = init_weights(tiny_mlp(), 1);
  w["score.weight"] = torch::zeros({5, 8});
  CHECK_THROWS_WITH(store_base(ws, tiny_mlp(), w, imported()), Catch::Contains("score.weight"));
  CHECK(live_components(ws.db, "base").empty());
  CHECK(fs::is_empty(ws.root / "checkpoints"));
}
