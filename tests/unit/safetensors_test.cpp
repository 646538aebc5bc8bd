// safetensors: bit-exact round trips, files laid out by other writers, every kind of corrupt or
// lying file rejected as an integrity error naming what is wrong, and sharded checkpoints.
#include "tests/support/catch_torch.h"  // not <catch2/catch.hpp>: LibTorch's CHECK would win

#include <algorithm>
#include <cstring>
#include <initializer_list>

#include "checkpoints/safetensors.h"
#include "checkpoints/tensor_io.h"
#include "src/common/error.h"
#include "src/common/fs.h"
#include "tests/support/temp_dir.h"

using namespace lethe;

namespace {

// A file as the spec describes it: 8-byte little-endian header length, the header, the data.
std::string raw_file(const std::string& header, const std::string& data) {
  std::string out;
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out + header + data;
}

std::string f32_bytes(std::initializer_list<float> values) {
  std::string out;
  for (const float v : values) {
    char b[4];
    std::memcpy(b, &v, 4);
    out.append(b, 4);
  }
  return out;
}

// Expects parse_safetensors to reject `bytes` as kIntegrity with a message containing each part.
void expect_integrity(const std::string& bytes, std::initializer_list<const char*> parts) {
  try {
    parse_safetensors(bytes, "bad.safetensors");
    FAIL("expected an integrity error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kIntegrity);
    CHECK_THAT(e.what(), Catch::Contains("bad.safetensors"));
    for (const char* p : parts) CHECK_THAT(e.what(), Catch::Contains(p));
  }
}

// Two F32 tensors, 'a' (2 values) then 'b' (1 value), with a one-tensor body for variations.
std::string two_tensors(const std::string& a_fields, const std::string& b_fields, size_t data_bytes = 12) {
  const std::string header = "{\"a\":{" + a_fields + "},\"b\":{" + b_fields + "}}";
  return raw_file(header, std::string(data_bytes, '\0'));
}

std::map<std::string, at::Tensor> sample_tensors() {
  torch::manual_seed(7);
  return {
      {"f32", torch::randn({3, 4})},
      {"f16", torch::randn({5}).to(torch::kHalf)},
      {"bf16", torch::randn({2, 3}).to(torch::kBFloat16)},
      {"i64", torch::arange(-3, 3, torch::kLong).reshape({2, 3})},
      {"scalar", torch::tensor(2.5, torch::kDouble).reshape({})},
      {"empty", torch::zeros({0, 4})},
      {"mask", torch::tensor({true, false, true})},
      {"strided", torch::arange(12, torch::kInt).reshape({3, 4}).t()},  // not contiguous
  };
}

SafetensorsFile shard(std::initializer_list<const char*> names,
                      std::map<std::string, std::string> meta = {}) {
  SafetensorsFile f;
  for (const char* n : names) f.tensors.push_back({n, DType::kF32, {1}, f32_bytes({1.0f})});
  f.metadata = std::move(meta);
  return f;
}

void write_index(const fs::path& path, const std::string& weight_map) {
  test::write_text(path, "{\"metadata\": {\"total_size\": 12}, \"weight_map\": {" + weight_map + "}}");
}

}  // namespace

TEST_CASE("safetensors: torch tensors round-trip bit for bit and bytes re-serialize identically",
          "[safetensors]") {
  test::TempDir dir;
  const auto tensors = sample_tensors();
  const fs::path p = dir / "model.safetensors";
  write_safetensors(p, from_tensors(tensors, {{"format", "pt"}}));

  const SafetensorsFile file = read_safetensors(p);
  CHECK(file.metadata == std::map<std::string, std::string>{{"format", "pt"}});
  CHECK(serialize_safetensors(file) == read_file(p));
  const auto back = to_tensors(file);
  REQUIRE(back.size() == tensors.size());
  for (const auto& [name, t] : tensors) {
    INFO(name);
    const at::Tensor& u = back.at(name);
    CHECK(u.scalar_type() == t.scalar_type());
    CHECK(u.sizes() == t.sizes());
    CHECK(u.is_contiguous());
    CHECK(torch::equal(u, t));
    CHECK(to_entry(name, u).bytes == to_entry(name, t).bytes);  // bits, not just values
  }
}

TEST_CASE("safetensors: a file laid out by another writer parses", "[safetensors]") {
  // As the Python writer produces it: metadata first, tensors not in name order in the data,
  // header padded with spaces.
  std::string header =
      R"({"__metadata__":{"format":"pt"},"weight":{"dtype":"F32","shape":[2],"data_offsets":[2,10]},)"
      R"("bias":{"dtype":"I16","shape":[],"data_offsets":[0,2]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  const std::string data = std::string("\x07\x00", 2) + f32_bytes({1.5f, -2.0f});
  const SafetensorsFile f = parse_safetensors(raw_file(header, data), "ref.safetensors");
  REQUIRE(f.tensors.size() == 2);
  CHECK(f.tensors[0].name == "bias");
  CHECK(f.tensors[0].dtype == DType::kI16);
  CHECK(f.tensors[0].shape.empty());
  CHECK(f.tensors[1].name == "weight");
  CHECK(f.tensors[1].shape == std::vector<int64_t>{2});
  CHECK(f.metadata.at("format") == "pt");
  const auto t = to_tensors(f);
  CHECK(t.at("bias").item<int16_t>() == 7);
  CHECK(torch::equal(t.at("weight"), torch::tensor({1.5f, -2.0f})));
}

TEST_CASE("safetensors: every truncation of a valid file is rejected", "[safetensors]") {
  const std::string good = serialize_safetensors(from_tensors(sample_tensors(), {{"k", "v"}}));
  REQUIRE_NOTHROW(parse_safetensors(good, "bad.safetensors"));
  for (size_t n = 0; n < good.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    expect_integrity(good.substr(0, n), {});
  }
}

TEST_CASE("safetensors: a lying header length is rejected", "[safetensors]") {
  const std::string header = R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})";
  std::string file = raw_file(header, "x");
  file[0] = static_cast<char>(header.size() + 2);  // past the end of the file
  expect_integrity(file, {"header length", "exceeds"});
  std::memset(&file[0], 0xff, 8);  // 2^64 - 1
  expect_integrity(file, {"header length 18446744073709551615"});
  expect_integrity(raw_file(std::string(100'000'001, ' '), ""), {"header length", "limit"});
}

TEST_CASE("safetensors: data_offsets outside the data section are rejected", "[safetensors]") {
  expect_integrity(two_tensors(R"("dtype":"F32","shape":[2],"data_offsets":[0,8])",
                               R"("dtype":"F32","shape":[1],"data_offsets":[8,12])", 11),
                   {"tensor 'b'", "data_offsets [8, 12] exceed the data section (11 bytes)"});
  expect_integrity(two_tensors(R"("dtype":"F32","shape":[2],"data_offsets":[8,0])",
                               R"("dtype":"F32","shape":[1],"data_offsets":[8,12])"),
                   {"tensor 'a'", "data_offsets [8, 0]"});
  expect_integrity(two_tensors(R"("dtype":"F32","shape":[2],"data_offsets":[0,-8])",
                               R"("dtype":"F32","shape":[1],"data_offsets":[8,12])"),
                   {"tensor 'a'", "data_offsets"});
  expect_integrity(two_tensors(R"("dtype":"F32","shape":[2],"data_offsets":[0])",
                               R"("dtype":"F32","shape":[1],"data_offsets":[8,12])"),
                   {"tensor 'a'", "data_offsets"});
}

TEST_CASE("safetensors: a byte range that does not match dtype and shape is rejected", "[safetensors]") {
  expect_integrity(two_tensors(R"("dtype":"F32","shape":[3],"data_offsets":[0,8])",
                               R"("dtype":"F32","shape":[1],"data_offsets":[8,12])"),
                   {"tensor 'a'", "hold 8 bytes", "needs 12"});
  expect_integrity(two_tensors(R"("dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8])",
                               R"("dtype":"F32","shape":[1],"data_offsets":[8,12])"),
                   {"tensor 'a'", "overflows"});
}

TEST_CASE("safetensors: overlapping tensors and gaps are rejected", "[safetensors]") {
  expect_integrity(two_tensors(R"("dtype":"F32","shape":[2],"data_offsets":[0,8])",
                               R"("dtype":"F32","shape":[1],"data_offsets":[4,8])"),
                   {"tensor 'b'", "overlap tensor 'a'"});
  expect_integrity(two_tensors(R"("dtype":"F32","shape":[2],"data_offsets":[0,8])",
                               R"("dtype":"F32","shape":[1],"data_offsets":[12,16])", 16),
                   {"tensor 'b'", "gap of 4 bytes"});
  expect_integrity(two_tensors(R"("dtype":"F32","shape":[2],"data_offsets":[0,8])",
                               R"("dtype":"F32","shape":[1],"data_offsets":[8,12])", 13),
                   {"1 bytes after the last tensor"});
}

TEST_CASE("safetensors: bad dtype, shape and fields are rejected naming the tensor", "[safetensors]") {
  const std::string b = R"("dtype":"F32","shape":[1],"data_offsets":[8,12])";
  expect_integrity(two_tensors(R"("dtype":"C64","shape":[1],"data_offsets":[0,8])", b),
                   {"tensor 'a'", "unknown dtype \"C64\""});
  expect_integrity(two_tensors(R"("dtype":5,"shape":[2],"data_offsets":[0,8])", b), {"tensor 'a'", "dtype"});
  expect_integrity(two_tensors(R"("dtype":"F32","shape":[-2],"data_offsets":[0,8])", b),
                   {"tensor 'a'", "negative dimension -2"});
  expect_integrity(two_tensors(R"("dtype":"F32","shape":[2.0],"data_offsets":[0,8])", b),
                   {"tensor 'a'", "shape"});
  expect_integrity(two_tensors(R"("dtype":"F32","shape":2,"data_offsets":[0,8])", b),
                   {"tensor 'a'", "shape"});
  expect_integrity(two_tensors(R"("dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1)", b),
                   {"tensor 'a'", "unexpected field 'x'"});
  expect_integrity(two_tensors(R"("dtype":"F32","shape":[2])", b),
                   {"tensor 'a'", "missing field 'data_offsets'"});
  expect_integrity(raw_file(R"({"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", "x"), {"empty name"});
  expect_integrity(raw_file(R"({"m":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}})", "\x02"),
                   {"tensor 'm'", "BOOL byte 2"});
}

TEST_CASE("safetensors: duplicate keys are rejected", "[safetensors]") {
  expect_integrity(raw_file(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                            R"("a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})",
                            "x"),
                   {"duplicate key 'a'"});
  expect_integrity(raw_file(R"({"a":{"dtype":"U8","dtype":"I8","shape":[1],"data_offsets":[0,1]}})", "x"),
                   {"'a'", "duplicate key 'dtype'"});
  expect_integrity(raw_file(R"({"__metadata__":{"k":"1","k":"2"}})", ""), {"duplicate key 'k'"});
}

TEST_CASE("safetensors: a header that is not a JSON object is rejected", "[safetensors]") {
  expect_integrity(raw_file("[]      ", ""), {"header is not a JSON object"});
  expect_integrity(raw_file("{\"a\":", ""), {"header is not valid JSON"});
  expect_integrity(raw_file("", ""), {"header is not valid JSON"});
  expect_integrity(raw_file("{\"a\":[[[[1]]]]}", ""), {"nested deeper"});
  expect_integrity(raw_file("{\"a\":\"\xff\"}", ""), {"header is not valid JSON"});  // not UTF-8
}

TEST_CASE("safetensors: metadata must map strings to strings", "[safetensors]") {
  expect_integrity(raw_file(R"({"__metadata__":{"epoch":3}})", ""), {"__metadata__ value 'epoch'"});
  expect_integrity(raw_file(R"({"__metadata__":["x"]})", ""), {"__metadata__"});
  const SafetensorsFile f = parse_safetensors(raw_file(R"({"__metadata__":{"a":"b"}})", ""), "m");
  CHECK(f.tensors.empty());
  CHECK(f.metadata.at("a") == "b");
}

TEST_CASE("safetensors: serialization is deterministic with an 8-byte aligned header", "[safetensors]") {
  const auto tensors = sample_tensors();
  const std::string one = serialize_safetensors(from_tensors(tensors, {{"b", "2"}, {"a", "1"}}));
  const std::string two = serialize_safetensors(from_tensors(tensors, {{"a", "1"}, {"b", "2"}}));
  CHECK(one == two);
  SafetensorsFile reversed = from_tensors(tensors, {{"a", "1"}, {"b", "2"}});
  std::reverse(reversed.tensors.begin(), reversed.tensors.end());
  CHECK(serialize_safetensors(reversed) == one);

  uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = (header << 8) | static_cast<unsigned char>(one[i]);
  CHECK(header % 8 == 0);
  CHECK(one.find("__metadata__") != std::string::npos);
  CHECK(serialize_safetensors(from_tensors(tensors)).find("__metadata__") == std::string::npos);
  CHECK(serialize_safetensors({}) == raw_file("{}      ", ""));
}

TEST_CASE("safetensors: invalid entries are refused when writing", "[safetensors]") {
  SafetensorsFile f;
  f.tensors.push_back({"a", DType::kF32, {2}, f32_bytes({1.0f})});
  CHECK_THROWS_MATCHES(serialize_safetensors(f), Error, Catch::Matchers::Predicate<Error>([](const Error& e) {
                         return e.kind() == ErrorKind::kInternal;
                       }));
  f.tensors = {{"a", DType::kF32, {1}, f32_bytes({1.0f})}, {"a", DType::kF32, {1}, f32_bytes({2.0f})}};
  CHECK_THROWS_AS(serialize_safetensors(f), Error);
  CHECK_THROWS_AS(to_tensor({"a", DType::kF32, {-1}, ""}), Error);
}

TEST_CASE("safetensors: a sharded checkpoint reads as one", "[safetensors]") {
  test::TempDir dir;
  write_safetensors(dir / "model-00001-of-00002.safetensors", shard({"a", "c"}, {{"format", "pt"}}));
  write_safetensors(dir / "model-00002-of-00002.safetensors", shard({"b"}, {{"format", "pt"}}));
  write_index(dir / "model.safetensors.index.json",
              R"("a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors",)"
              R"("c": "model-00001-of-00002.safetensors")");
  for (const fs::path& p : {dir.path(), dir / "model.safetensors.index.json"}) {
    const SafetensorsFile f = read_checkpoint(p);
    REQUIRE(f.tensors.size() == 3);
    CHECK(f.tensors[0].name == "a");
    CHECK(f.tensors[1].name == "b");
    CHECK(f.tensors[2].name == "c");
    CHECK(f.metadata.at("format") == "pt");
    CHECK(f.metadata.at("total_size") == "12");
  }
  // A directory without an index falls back to model.safetensors.
  test::TempDir single;
  write_safetensors(single / "model.safetensors", shard({"x"}));
  CHECK(read_checkpoint(single.path()).tensors.at(0).name == "x");
  CHECK(read_checkpoint(single / "model.safetensors").tensors.at(0).name == "x");
}

TEST_CASE("safetensors: a sharded checkpoint whose index and shards disagree is rejected", "[safetensors]") {
  test::TempDir dir;
  const fs::path index = dir / "model.safetensors.index.json";
  write_safetensors(dir / "s1.safetensors", shard({"a"}));
  write_safetensors(dir / "s2.safetensors", shard({"b", "extra"}));
  auto expect = [&](const std::string& weight_map, std::initializer_list<const char*> parts) {
    write_index(index, weight_map);
    try {
      read_sharded_safetensors(index);
      FAIL("expected an integrity error");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kIntegrity);
      for (const char* p : parts) CHECK_THAT(e.what(), Catch::Contains(p));
    }
  };
  // 'z' is in the index but in no shard.
  expect(R"("a": "s1.safetensors", "z": "s1.safetensors")",
         {"tensor 'z'", "missing from shard 's1.safetensors'"});
  // s2 holds 'extra', which the index does not list.
  expect(R"("a": "s1.safetensors", "b": "s2.safetensors")", {"tensor 'extra'", "not in the weight_map"});
  // 'b' is held by s2 but the index says s1.
  expect(R"("a": "s1.safetensors", "b": "s1.safetensors", "extra": "s2.safetensors")", {"tensor 'b'"});
  expect(R"("a": "../x.safetensors")", {"tensor 'a'", "'../x.safetensors' is not a plain file name"});
  expect(R"("a": "/etc/x.safetensors")", {"not a plain file name"});
  expect(R"("a": "..")", {"not a plain file name"});
  expect(R"("a": 3)", {"tensor 'a'"});
  expect(R"("a": "s1.safetensors", "a": "s2.safetensors")", {"duplicate key 'a'"});
  test::write_text(index, R"({"metadata": {}})");
  CHECK_THROWS_AS(read_sharded_safetensors(index), Error);
}

TEST_CASE("safetensors: a missing checkpoint is not-found naming the path", "[safetensors]") {
  test::TempDir dir;
  try {
    read_checkpoint(dir.path());
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kNotFound);
    CHECK_THAT(e.what(), Catch::Contains("model.safetensors"));
  }
}
