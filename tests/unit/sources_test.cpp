#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <map>

#include "src/common/error.h"
#include "src/data/sources.h"
#include "tests/support/skip.h"
#include "tests/support/temp_dir.h"

using namespace lethe;

namespace {

const fs::path kFashionDir = "/usr/share/datasets/fashion-mnist";
const fs::path kFortunesDir = "/usr/share/games/fortunes";

// Runs `f`, which must throw a lethe::Error, and returns that error.
template <typename F>
Error error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  FAIL("expected a lethe::Error");
  return Error(ErrorKind::kInternal, "unreachable");
}

std::vector<float> floats_of(std::string_view bytes) {
  std::vector<float> out(bytes.size() / sizeof(float));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
  return out;
}

// Index of record `id` in `batch`, or -1.
int64_t find_id(const RecordBatch& batch, std::string_view id) {
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch.ids.at(i) == id) return static_cast<int64_t>(i);
  }
  return -1;
}

// --- Fashion-MNIST helpers -------------------------------------------------------------------

FashionMnistOptions fashion_options(int64_t limit) {
  FashionMnistOptions o;
  o.dir = kFashionDir;
  o.limit = limit;
  return o;
}

std::string big_endian(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// Uncompressed idx files with `n` images (pixel value = index) and `m` labels (index % 10).
std::string idx_images(uint32_t n) {
  std::string s = big_endian(0x803) + big_endian(n) + big_endian(28) + big_endian(28);
  for (uint32_t i = 0; i < n; ++i) s += std::string(784, static_cast<char>(i));
  return s;
}
std::string idx_labels(uint32_t m) {
  std::string s = big_endian(0x801) + big_endian(m);
  for (uint32_t i = 0; i < m; ++i) s += static_cast<char>(i % 10);
  return s;
}

void write_small_fashion(const fs::path& dir, uint32_t train_images, uint32_t train_labels) {
  test::write_text(dir / "train-images-idx3-ubyte", idx_images(train_images));
  test::write_text(dir / "train-labels-idx1-ubyte", idx_labels(train_labels));
  test::write_text(dir / "t10k-images-idx3-ubyte", idx_images(2));
  test::write_text(dir / "t10k-labels-idx1-ubyte", idx_labels(2));
}

// --- Tabular helpers -------------------------------------------------------------------------

SourceData jsonl(const test::TempDir& dir, const std::string& text, TabularOptions o = {}) {
  const fs::path p = dir / "data.jsonl";
  test::write_text(p, text);
  return read_jsonl(p, o);
}

SourceData csv(const test::TempDir& dir, const std::string& text, TabularOptions o = {}) {
  const fs::path p = dir / "data.csv";
  test::write_text(p, text);
  return read_csv(p, o);
}

// The JSONL reader must reject `text` as input, naming "data.jsonl:<line>" and `detail`.
void check_jsonl_error(const std::string& text, int line, const std::string& detail,
                       TabularOptions o = {}) {
  test::TempDir dir;
  const Error e = error_of([&] { jsonl(dir, text, o); });
  CHECK(e.kind() == ErrorKind::kInput);
  CHECK_THAT(e.what(), Catch::Contains("data.jsonl:" + std::to_string(line) + ": "));
  CHECK_THAT(e.what(), Catch::Contains(detail));
}

void check_csv_error(const std::string& text, int line, const std::string& detail,
                     TabularOptions o = {}) {
  test::TempDir dir;
  const Error e = error_of([&] { csv(dir, text, o); });
  CHECK(e.kind() == ErrorKind::kInput);
  CHECK_THAT(e.what(), Catch::Contains("data.csv:" + std::to_string(line) + ": "));
  CHECK_THAT(e.what(), Catch::Contains(detail));
}

const std::string kGoodLine = R"({"id": "r1", "label": "a", "text": "hi"})";

}  // namespace

// ===== Fashion-MNIST =========================================================================

TEST_CASE("sources: fashion-mnist with a limit gives ids, shape, labels and splits", "[sources]") {
  const SourceData d = read_fashion_mnist(fashion_options(600));
  const RecordBatch& b = d.records;
  REQUIRE(b.size() == 700);
  CHECK(b.payload_kind == PayloadKind::kImage);
  CHECK(b.payload_type == PayloadType::kU8);
  CHECK(b.payload_shape == std::vector<int64_t>{28, 28});
  CHECK_FALSE(b.has_timestamps());
  REQUIRE(d.label_names.size() == 10);
  CHECK(d.label_names[0] == "T-shirt/top");
  CHECK(d.label_names[9] == "Ankle boot");

  CHECK(b.ids.at(0) == "train-00000");
  CHECK(b.ids.at(599) == "train-00599");
  CHECK(b.ids.at(600) == "test-00000");
  CHECK(b.ids.at(699) == "test-00099");
  // The first image of both files is an ankle boot.
  CHECK(b.labels[0] == 9);
  CHECK(b.labels[600] == 9);
  std::vector<int> label_counts(10);
  for (size_t i = 0; i < b.size(); ++i) {
    REQUIRE(b.payloads.at(i).size() == 784);
    REQUIRE(b.labels[i] >= 0);
    REQUIRE(b.labels[i] < 10);
    ++label_counts[b.labels[i]];
    if (i < 600) {
      CHECK(b.splits[i] == Split::kTrain);
      CHECK(b.owners.at(i).substr(0, 5) == "user-");
    } else {
      CHECK(b.splits[i] == Split::kTest);
      CHECK(b.owners.at(i) == b.ids.at(i));
    }
  }
  for (int count : label_counts) CHECK(count > 0);
  // Images are real pictures, not zero bytes.
  const std::string_view first = b.payloads.at(0);
  CHECK(std::count(first.begin(), first.end(), '\0') < 700);
}

TEST_CASE("sources: fashion-mnist limit 1 still gives one test record", "[sources]") {
  const SourceData d = read_fashion_mnist(fashion_options(1));
  REQUIRE(d.records.size() == 2);
  CHECK(d.records.splits[1] == Split::kTest);
}

TEST_CASE("sources: fashion-mnist owners are deterministic per seed", "[sources]") {
  FashionMnistOptions o = fashion_options(600);
  const SourceData a = read_fashion_mnist(o);
  const SourceData b = read_fashion_mnist(o);
  CHECK(a.records == b.records);
  o.seed = 7;
  const SourceData c = read_fashion_mnist(o);
  CHECK_FALSE(a.records.owners == c.records.owners);
  CHECK(a.records.payloads == c.records.payloads);
  // A smaller limit gives a prefix of the same owners.
  const SourceData small = read_fashion_mnist(fashion_options(100));
  for (size_t i = 0; i < 100; ++i) CHECK(small.records.owners.at(i) == a.records.owners.at(i));
}

TEST_CASE("sources: fashion-mnist owner counts follow the skew", "[sources]") {
  const auto counts_of = [](double skew) {
    FashionMnistOptions o = fashion_options(600);
    o.owner_skew = skew;
    o.num_owners = 200;
    const SourceData d = read_fashion_mnist(o);
    std::map<std::string, int> per_owner;
    for (size_t i = 0; i < d.records.size(); ++i) {
      if (d.records.splits[i] == Split::kTrain) ++per_owner[std::string(d.records.owners.at(i))];
    }
    std::vector<int> counts;
    for (const auto& [owner, n] : per_owner) counts.push_back(n);
    std::sort(counts.rbegin(), counts.rend());
    return counts;
  };
  const std::vector<int> skewed = counts_of(1.1);
  const int top = skewed.front(), median = skewed[skewed.size() / 2];
  INFO("top " << top << ", median " << median << ", owners " << skewed.size());
  CHECK(top >= 5 * median);
  CHECK(top >= 50);
  const std::vector<int> uniform = counts_of(0.0);
  INFO("uniform top " << uniform.front());
  CHECK(uniform.front() < 15);
  CHECK(uniform.size() > skewed.size());
}

TEST_CASE("sources: fashion-mnist truncated gzip is a clear input error", "[sources]") {
  test::TempDir dir;
  for (const char* name : {"train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                           "t10k-labels-idx1-ubyte.gz"}) {
    fs::copy_file(kFashionDir / name, dir / name);
  }
  const std::string labels = read_file(kFashionDir / "train-labels-idx1-ubyte.gz");
  test::write_text(dir / "train-labels-idx1-ubyte.gz", labels.substr(0, labels.size() / 2));
  FashionMnistOptions o;
  o.dir = dir.path();
  o.limit = 600;  // a limit must not hide the damage
  const Error e = error_of([&] { read_fashion_mnist(o); });
  CHECK(e.kind() == ErrorKind::kInput);
  CHECK_THAT(e.what(), Catch::Contains("train-labels-idx1-ubyte.gz"));
  CHECK_THAT(e.what(), Catch::Contains("truncated"));
}

TEST_CASE("sources: fashion-mnist gzip missing only its trailer is an input error", "[sources]") {
  test::TempDir dir;
  for (const char* name : {"train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                           "train-labels-idx1-ubyte.gz"}) {
    fs::copy_file(kFashionDir / name, dir / name);
  }
  // Without the 8-byte CRC and length trailer all data may still decompress.
  const std::string labels = read_file(kFashionDir / "t10k-labels-idx1-ubyte.gz");
  test::write_text(dir / "t10k-labels-idx1-ubyte.gz", labels.substr(0, labels.size() - 8));
  FashionMnistOptions o;
  o.dir = dir.path();
  const Error e = error_of([&] { read_fashion_mnist(o); });
  CHECK(e.kind() == ErrorKind::kInput);
  CHECK_THAT(e.what(), Catch::Contains("t10k-labels-idx1-ubyte.gz"));
}

TEST_CASE("sources: fashion-mnist reads uncompressed idx files", "[sources]") {
  test::TempDir dir;
  write_small_fashion(dir.path(), 3, 3);
  FashionMnistOptions o;
  o.dir = dir.path();
  o.num_owners = 2;
  const SourceData d = read_fashion_mnist(o);
  REQUIRE(d.records.size() == 5);
  CHECK(d.records.ids.at(2) == "train-00002");
  CHECK(d.records.payloads.at(2) == std::string(784, '\2'));
  CHECK(d.records.labels[2] == 2);
  CHECK(d.records.ids.at(4) == "test-00001");
  for (size_t i = 0; i < 3; ++i) {
    const auto owner = d.records.owners.at(i);
    CHECK((owner == "user-0" || owner == "user-1"));
  }
}

TEST_CASE("sources: fashion-mnist count mismatch names both files", "[sources]") {
  test::TempDir dir;
  write_small_fashion(dir.path(), 3, 4);
  FashionMnistOptions o;
  o.dir = dir.path();
  const Error e = error_of([&] { read_fashion_mnist(o); });
  CHECK(e.kind() == ErrorKind::kInput);
  CHECK_THAT(e.what(), Catch::Contains("train-images-idx3-ubyte"));
  CHECK_THAT(e.what(), Catch::Contains("train-labels-idx1-ubyte"));
}

TEST_CASE("sources: fashion-mnist bad magic and short data are input errors", "[sources]") {
  test::TempDir dir;
  write_small_fashion(dir.path(), 3, 3);
  FashionMnistOptions o;
  o.dir = dir.path();
  SECTION("labels where images belong") {
    test::write_text(dir / "t10k-images-idx3-ubyte", idx_labels(2));
    const Error e = error_of([&] { read_fashion_mnist(o); });
    CHECK(e.kind() == ErrorKind::kInput);
    CHECK_THAT(e.what(), Catch::Contains("t10k-images-idx3-ubyte"));
    CHECK_THAT(e.what(), Catch::Contains("magic"));
  }
  SECTION("fewer pixels than the header declares") {
    const std::string images = idx_images(3);
    test::write_text(dir / "train-images-idx3-ubyte", images.substr(0, images.size() - 100));
    const Error e = error_of([&] { read_fashion_mnist(o); });
    CHECK(e.kind() == ErrorKind::kInput);
    CHECK_THAT(e.what(), Catch::Contains("train-images-idx3-ubyte"));
    CHECK_THAT(e.what(), Catch::Contains("truncated"));
  }
  SECTION("a count far beyond what the file holds fails before allocating for it") {
    // 2^32 - 1 images of 28x28 would be 3.4 TB: std::bad_alloc (exit 70) when trusted.
    std::string images = idx_images(3);
    images.replace(4, 4, big_endian(0xffffffffu));
    test::write_text(dir / "train-images-idx3-ubyte", images);
    const Error e = error_of([&] { read_fashion_mnist(o); });
    CHECK(e.kind() == ErrorKind::kInput);
    CHECK_THAT(e.what(), Catch::Contains("train-images-idx3-ubyte"));
    CHECK_THAT(e.what(), Catch::Contains("4294967295 items"));
  }
  SECTION("a missing file is not-found") {
    fs::remove(dir / "t10k-labels-idx1-ubyte");
    const Error e = error_of([&] { read_fashion_mnist(o); });
    CHECK(e.kind() == ErrorKind::kNotFound);
    CHECK_THAT(e.what(), Catch::Contains("t10k-labels-idx1-ubyte"));
  }
}

// ===== Fortunes ==============================================================================

TEST_CASE("sources: real fortunes have attributed and anonymous owners", "[sources]") {
  FortunesOptions o;
  o.dir = kFortunesDir;
  o.categories = {"people"};
  const SourceData d = read_fortunes(o);
  const RecordBatch& b = d.records;
  REQUIRE(d.label_names == std::vector<std::string>{"people"});
  REQUIRE(b.size() > 100);
  CHECK(b.payload_kind == PayloadKind::kText);
  CHECK(b.payload_type == PayloadType::kU8);
  CHECK_FALSE(b.has_timestamps());

  const int64_t lazarus = find_id(b, "people-00000");
  REQUIRE(lazarus >= 0);
  CHECK(b.owners.at(lazarus) == "Lazarus Long");
  const std::string_view text = b.payloads.at(lazarus);
  CHECK(text.substr(0, 22) == "A \"practical joker\" de");
  CHECK(text.substr(text.size() - 9) == "wittiest.");
  CHECK(text.find("Lazarus") == std::string_view::npos);
  CHECK(text.find("--") == std::string_view::npos);

  const int64_t anonymous = find_id(b, "people-00001");
  REQUIRE(anonymous >= 0);
  CHECK(b.owners.at(anonymous) == "anonymous-people-1");

  for (size_t i = 0; i < b.size(); ++i) {
    const std::string_view t = b.payloads.at(i);
    REQUIRE_FALSE(t.empty());
    CHECK(t.find_first_of("\t\n\r") == std::string_view::npos);
    CHECK(t.find("  ") == std::string_view::npos);
    CHECK(t.front() != ' ');
    CHECK(t.back() != ' ');
    CHECK(b.splits[i] == Split::kTrain);
    CHECK(b.labels[i] == 0);
  }
}

TEST_CASE("sources: all real fortune categories are sorted and read deterministically",
          "[sources]") {
  FortunesOptions o;
  o.dir = kFortunesDir;
  const SourceData d = read_fortunes(o);
  CHECK(std::is_sorted(d.label_names.begin(), d.label_names.end()));
  const auto people = std::find(d.label_names.begin(), d.label_names.end(), "people");
  REQUIRE(people != d.label_names.end());
  for (const auto& name : d.label_names) {
    CHECK(name.find(".dat") == std::string::npos);
    CHECK(name.find(".u8") == std::string::npos);
  }
  bool found = false;
  for (size_t i = 0; i < d.records.size() && !found; ++i) {
    found = d.records.owners.at(i) == "Lazarus Long" &&
            d.label_names[d.records.labels[i]] == "people";
  }
  CHECK(found);
  CHECK(read_fortunes(o).records == d.records);
}

TEST_CASE("sources: fortunes skip .dat files, symlinks and subdirectories", "[sources]") {
  test::TempDir dir;
  test::write_text(dir / "zeta",
                   "First  line\n\tsecond line\n\t\t--   Jane   Q.  Doe  \n%\n"
                   "%\n"
                   "Only text here.\n%\n"
                   "Empty author\n\t\t--  \n%\n"
                   "\t-- Just an attribution\n%\n");
  test::write_text(dir / "alpha", "Alpha one\n-- Ann\n%\nAlpha two\r\n%\r\n");
  test::write_text(dir / "alpha.dat", "binary index");
  fs::create_symlink("alpha", dir / "alpha.u8");
  fs::create_directory(dir / "off");
  test::write_text(dir / "off" / "rude", "Hidden\n%\n");

  FortunesOptions o;
  o.dir = dir.path();
  const SourceData d = read_fortunes(o);
  REQUIRE(d.label_names == std::vector<std::string>{"alpha", "zeta"});
  const RecordBatch& b = d.records;
  REQUIRE(b.size() == 5);
  CHECK(b.ids.at(0) == "alpha-00000");
  CHECK(b.owners.at(0) == "Ann");
  CHECK(b.payloads.at(0) == "Alpha one");
  CHECK(b.ids.at(1) == "alpha-00001");
  CHECK(b.owners.at(1) == "anonymous-alpha-1");
  CHECK(b.payloads.at(1) == "Alpha two");
  CHECK(b.labels[1] == 0);

  CHECK(b.ids.at(2) == "zeta-00000");
  CHECK(b.owners.at(2) == "Jane Q. Doe");
  CHECK(b.payloads.at(2) == "First line second line");
  CHECK(b.labels[2] == 1);
  // zeta-00001 is empty and skipped; numbering keeps file positions.
  CHECK(b.ids.at(3) == "zeta-00002");
  CHECK(b.owners.at(3) == "anonymous-zeta-2");
  CHECK(b.payloads.at(3) == "Only text here.");
  CHECK(b.ids.at(4) == "zeta-00003");
  CHECK(b.owners.at(4) == "anonymous-zeta-3");
  CHECK(b.payloads.at(4) == "Empty author");
  // zeta-00004 is only an attribution: no text, skipped.

  o.categories = {"zeta"};
  const SourceData only = read_fortunes(o);
  CHECK(only.label_names == std::vector<std::string>{"zeta"});
  CHECK(only.records.size() == 3);

  o.categories = {"alpha.u8"};
  const Error e = error_of([&] { read_fortunes(o); });
  CHECK(e.kind() == ErrorKind::kUsage);
  CHECK_THAT(e.what(), Catch::Contains("alpha.u8"));
}

TEST_CASE("sources: fortunes in a missing directory is not-found", "[sources]") {
  FortunesOptions o;
  o.dir = "/nonexistent/fortunes";
  CHECK(error_of([&] { read_fortunes(o); }).kind() == ErrorKind::kNotFound);
}

// ===== WordNet ===============================================================================

TEST_CASE("sources: wordnet synsets become records labelled by lexicographer file", "[sources]") {
  test::TempDir dir;
  // A licence header as the real files have (two spaces and a line number), a noun with three
  // words, pointers and a gloss with examples, a synset of an unread category, an adjective
  // with a syntactic marker, and a CRLF line.
  test::write_text(dir / "data.noun",
                   "  1 This software and database is being provided\n"
                   "  2 \n"
                   "02084071 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 002 @ 02083346 n 0000 "
                   "~ 01322604 n 0000 | a member of the genus Canis;  \"the dog barked all night\"  \n"
                   "07566340 13 n 01 food 0 001 @ 00021265 n 0000 | any substance that can be "
                   "metabolized\r\n"
                   "09218641 17 n 01 bank 0 000 | sloping land (especially the slope beside a body of "
                   "water)\n");
  test::write_text(dir / "data.adj",
                   "00001740 00 a 01 able(a) 0 000 | having the necessary means\n");
  WordnetOptions o;
  o.dir = dir.path();
  o.categories = {"noun.food", "noun.animal", "adj.all"};
  const SourceData d = read_wordnet(o);
  REQUIRE(d.label_names == std::vector<std::string>{"adj.all", "noun.animal", "noun.food"});
  const RecordBatch& b = d.records;
  REQUIRE(b.size() == 3);  // noun.object (bank) is not a chosen category
  CHECK(b.payload_kind == PayloadKind::kText);
  CHECK(b.ids.at(0) == "adj.all-00001740");
  CHECK(b.owners.at(0) == "able");
  CHECK(b.payloads.at(0) == "able: having the necessary means");
  CHECK(b.labels[0] == 0);
  CHECK(b.ids.at(1) == "noun.animal-02084071");
  CHECK(b.owners.at(1) == "dog");
  CHECK(b.payloads.at(1) ==
        "dog, domestic dog, Canis familiaris: a member of the genus Canis; \"the dog barked all night\"");
  CHECK(b.labels[1] == 1);
  CHECK(b.ids.at(2) == "noun.food-07566340");
  CHECK(b.payloads.at(2) == "food: any substance that can be metabolized");
  CHECK(b.labels[2] == 2);
  CHECK(read_wordnet(o).records == b);

  o.categories = {"noun.dog"};
  const Error unknown = error_of([&] { read_wordnet(o); });
  CHECK(unknown.kind() == ErrorKind::kUsage);
  CHECK_THAT(unknown.what(), Catch::Contains("noun.dog") && Catch::Contains("noun.food"));
}

TEST_CASE("sources: a malformed wordnet line is bad input naming the file and line", "[sources]") {
  test::TempDir dir;
  WordnetOptions o;
  o.dir = dir.path();
  o.categories = {"noun.food"};
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"07566340 13 n 01 food 0 001 @ 00021265 n 0000 no gloss\n", "' | '"},
      {"0756634 13 n 01 food 0 | short offset\n", "offset"},
      {"07566340 45 n 01 food 0 | lexicographer file out of range\n", "lexicographer file"},
      {"07566340 13 n zz food 0 | word count\n", "word count"},
      {"07566340 13 n 03 food 0 | fewer words than counted\n", "fewer"},
  };
  for (const auto& [line, message] : cases) {
    test::write_text(dir / "data.noun", "  1 header\n" + line);
    const Error e = error_of([&] { read_wordnet(o); });
    CHECK(e.kind() == ErrorKind::kInput);
    CHECK_THAT(e.what(), Catch::Contains("data.noun', line 2") && Catch::Contains(message));
  }
  o.dir = "/nonexistent/wordnet";
  CHECK(error_of([&] { read_wordnet(o); }).kind() == ErrorKind::kNotFound);
}

TEST_CASE("sources: real wordnet nouns of six supersenses", "[sources]") {
  if (!fs::exists("/usr/share/wordnet/data.noun")) LETHE_SKIP("wordnet-base is not installed (scripts/install-deps.sh installs it)");
  WordnetOptions o;
  o.categories = {"noun.body", "noun.feeling", "noun.food", "noun.phenomenon", "noun.shape", "noun.time"};
  const SourceData d = read_wordnet(o);
  // WordNet 3.0's counts of these lexicographer files (lexnames(5WN)).
  std::vector<int64_t> count(6, 0);
  for (int32_t label : d.records.labels) ++count[static_cast<size_t>(label)];
  CHECK(count == std::vector<int64_t>{2016, 428, 2573, 641, 341, 1028});
  const int64_t food = find_id(d.records, "noun.food-07555863");
  REQUIRE(food >= 0);
  CHECK(d.records.owners.at(food) == "food");
  CHECK(d.records.payloads.at(food).substr(0, 23) == "food, solid food: any s");
}

// ===== JSONL =================================================================================

TEST_CASE("sources: jsonl text records round trip", "[sources]") {
  test::TempDir dir;
  TabularOptions o;
  o.timestamp_field = "ts";
  const SourceData d = jsonl(dir,
                             "{\"id\": \"a\", \"owner\": \"alice\", \"label\": \"spam\", "
                             "\"text\": \"h\\u00e9llo\\nworld\", \"ts\": 1700000000, \"x\": [1, {}]}\n"
                             "\n"
                             "   \r\n"
                             "{\"id\": 17, \"label\": \"ham\", \"text\": \"\", \"ts\": -5}\r\n"
                             "{\"ts\": 3, \"text\": \"t\", \"label\": 1, \"owner\": null, \"id\": \"c\"}",
                             o);
  const RecordBatch& b = d.records;
  REQUIRE(b.size() == 3);
  CHECK(b.payload_kind == PayloadKind::kText);
  CHECK(b.payload_type == PayloadType::kU8);
  CHECK(b.payload_shape.empty());
  CHECK(d.label_names == std::vector<std::string>{"1", "ham", "spam"});
  CHECK(b.ids.at(0) == "a");
  CHECK(b.owners.at(0) == "alice");
  CHECK(b.payloads.at(0) == "h\xC3\xA9llo\nworld");
  CHECK(b.labels[0] == 2);
  CHECK(b.ids.at(1) == "17");
  CHECK(b.owners.at(1) == "17");  // no owner: the record owns itself
  CHECK(b.payloads.at(1).empty());
  CHECK(b.labels[1] == 1);
  CHECK(b.ids.at(2) == "c");
  CHECK(b.owners.at(2) == "c");
  CHECK(b.labels[2] == 0);
  CHECK(b.timestamps == std::vector<int64_t>{1700000000, -5, 3});
  CHECK(b.splits == std::vector<Split>(3, Split::kTrain));
}

TEST_CASE("sources: jsonl feature records round trip", "[sources]") {
  test::TempDir dir;
  TabularOptions o;
  o.payload = "features";
  o.labels = {"neg", "pos"};
  const SourceData d = jsonl(dir,
                             "{\"id\": \"a\", \"label\": \"pos\", \"features\": [1, -2.5, 1e3]}\n"
                             "{\"id\": \"b\", \"label\": \"neg\", \"features\": [0.25, 0, 7]}\n",
                             o);
  const RecordBatch& b = d.records;
  REQUIRE(b.size() == 2);
  CHECK(b.payload_kind == PayloadKind::kFeatures);
  CHECK(b.payload_type == PayloadType::kF32);
  CHECK(b.payload_shape == std::vector<int64_t>{3});
  CHECK(d.label_names == std::vector<std::string>{"neg", "pos"});
  CHECK(b.labels == std::vector<int32_t>{1, 0});
  CHECK(floats_of(b.payloads.at(0)) == std::vector<float>{1.0f, -2.5f, 1000.0f});
  CHECK(floats_of(b.payloads.at(1)) == std::vector<float>{0.25f, 0.0f, 7.0f});
  CHECK_FALSE(b.has_timestamps());
}

TEST_CASE("sources: jsonl custom field names", "[sources]") {
  test::TempDir dir;
  TabularOptions o;
  o.id_field = "uid";
  o.owner_field = "user";
  o.text_field = "body";
  o.label_field = "y";
  const SourceData d =
      jsonl(dir, R"({"uid": "u1", "user": "bob", "y": "x", "body": "b", "id": 5})", o);
  REQUIRE(d.records.size() == 1);
  CHECK(d.records.ids.at(0) == "u1");
  CHECK(d.records.owners.at(0) == "bob");
  CHECK(d.records.payloads.at(0) == "b");
}

TEST_CASE("sources: jsonl empty input is an empty batch", "[sources]") {
  test::TempDir dir;
  const SourceData d = jsonl(dir, "\n\n");
  CHECK(d.records.size() == 0);
  CHECK(d.label_names.empty());
}

TEST_CASE("sources: jsonl malformed line", "[sources]") {
  check_jsonl_error(kGoodLine + "\n{\"id\": \"r2\", \"label\": \"a\", \"text\": }\n", 2,
                    "malformed JSON");
}

TEST_CASE("sources: jsonl trailing garbage after the object", "[sources]") {
  check_jsonl_error(kGoodLine + " x\n", 1, "malformed JSON");
}

TEST_CASE("sources: jsonl invalid UTF-8 is a malformed line", "[sources]") {
  check_jsonl_error(kGoodLine + "\n\n{\"id\": \"r\xFF\", \"label\": \"a\", \"text\": \"t\"}\n", 3,
                    "malformed JSON");
}

TEST_CASE("sources: jsonl line that is not an object", "[sources]") {
  check_jsonl_error("[1, 2, 3]\n", 1, "expected a JSON object, got an array");
  check_jsonl_error(kGoodLine + "\n\"text\"\n", 2, "expected a JSON object, got a string");
}

TEST_CASE("sources: jsonl missing id", "[sources]") {
  check_jsonl_error(R"({"label": "a", "text": "t"})", 1, "missing field 'id'");
}

TEST_CASE("sources: jsonl id that is not a string", "[sources]") {
  check_jsonl_error(kGoodLine + "\n" + R"({"id": true, "label": "a", "text": "t"})", 2,
                    "field 'id' must be a string or an integer, got a boolean");
  check_jsonl_error(R"({"id": 1.5, "label": "a", "text": "t"})", 1, "field 'id'");
}

TEST_CASE("sources: jsonl empty id or owner", "[sources]") {
  check_jsonl_error(R"({"id": "", "label": "a", "text": "t"})", 1, "field 'id' is empty");
  check_jsonl_error(R"({"id": "x", "owner": "", "label": "a", "text": "t"})", 1,
                    "field 'owner' is empty");
  check_jsonl_error(R"({"id": "x", "owner": [], "label": "a", "text": "t"})", 1,
                    "field 'owner' must be a string or an integer, got an array");
}

TEST_CASE("sources: jsonl missing label", "[sources]") {
  check_jsonl_error(R"({"id": "x", "text": "t"})", 1, "missing field 'label'");
}

TEST_CASE("sources: jsonl mistyped label", "[sources]") {
  check_jsonl_error(R"({"id": "x", "label": 0.5, "text": "t"})", 1,
                    "field 'label' must be a string or an integer, got a non-integer number");
  check_jsonl_error(R"({"id": "x", "label": null, "text": "t"})", 1, "got null");
}

TEST_CASE("sources: jsonl label outside the declared set", "[sources]") {
  TabularOptions o;
  o.labels = {"a", "b"};
  check_jsonl_error(kGoodLine + "\n" + R"({"id": "x", "label": "c", "text": "t"})", 2,
                    "label 'c' is not in the declared label set ('a', 'b')", o);
  o.labels = {"0", "1"};
  test::TempDir dir;
  const SourceData d = jsonl(dir, R"({"id": "x", "label": 1, "text": "t"})", o);
  CHECK(d.records.labels == std::vector<int32_t>{1});
  CHECK(d.label_names == o.labels);
}

TEST_CASE("sources: jsonl missing or mistyped text", "[sources]") {
  check_jsonl_error(R"({"id": "x", "label": "a"})", 1, "missing field 'text'");
  check_jsonl_error(R"({"id": "x", "label": "a", "text": 3})", 1,
                    "field 'text' must be a string, got an integer");
}

TEST_CASE("sources: jsonl bad features", "[sources]") {
  TabularOptions o;
  o.payload = "features";
  check_jsonl_error(R"({"id": "x", "label": "a", "text": "t"})", 1, "missing field 'features'",
                    o);
  check_jsonl_error(R"({"id": "x", "label": "a", "features": "1,2"})", 1,
                    "must be an array of numbers, got a string", o);
  check_jsonl_error(R"({"id": "x", "label": "a", "features": [1, "2"]})", 1,
                    "element 1 is a string", o);
  check_jsonl_error(R"({"id": "x", "label": "a", "features": [1, [2]]})", 1,
                    "element 1 is an array", o);
  check_jsonl_error(R"({"id": "x", "label": "a", "features": [1e300]})", 1,
                    "element 0 is not a finite 32-bit number", o);
  check_jsonl_error(R"({"id": "x", "label": "a", "features": []})", 1,
                    "field 'features' is empty", o);
}

TEST_CASE("sources: jsonl feature length mismatch says expected and got", "[sources]") {
  TabularOptions o;
  o.payload = "features";
  check_jsonl_error("{\"id\": \"x\", \"label\": \"a\", \"features\": [1, 2, 3]}\n"
                    "{\"id\": \"y\", \"label\": \"a\", \"features\": [1, 2]}\n",
                    2, "expected 3 feature values (as in the first record), got 2", o);
}

TEST_CASE("sources: jsonl timestamp that is not an integer", "[sources]") {
  TabularOptions o;
  o.timestamp_field = "ts";
  check_jsonl_error(R"({"id": "x", "label": "a", "text": "t", "ts": "2024-01-01"})", 1,
                    "field 'ts' must be an integer (epoch seconds), got a string", o);
  check_jsonl_error(R"({"id": "x", "label": "a", "text": "t", "ts": 1.5})", 1, "field 'ts'", o);
  check_jsonl_error(R"({"id": "x", "label": "a", "text": "t"})", 1, "missing field 'ts'", o);
}

TEST_CASE("sources: jsonl unknown payload kind is a usage error", "[sources]") {
  test::TempDir dir;
  TabularOptions o;
  o.payload = "image";
  CHECK(error_of([&] { jsonl(dir, kGoodLine, o); }).kind() == ErrorKind::kUsage);
}

TEST_CASE("sources: jsonl missing file is not-found", "[sources]") {
  const Error e = error_of([] { read_jsonl("/nonexistent/data.jsonl", {}); });
  CHECK(e.kind() == ErrorKind::kNotFound);
  CHECK_THAT(e.what(), Catch::Contains("/nonexistent/data.jsonl"));
}

TEST_CASE("sources: jsonl inferred labels are sorted whatever the input order", "[sources]") {
  test::TempDir dir;
  const SourceData a = jsonl(dir,
                             "{\"id\": \"1\", \"label\": \"pear\", \"text\": \"t\"}\n"
                             "{\"id\": \"2\", \"label\": \"apple\", \"text\": \"t\"}\n"
                             "{\"id\": \"3\", \"label\": \"fig\", \"text\": \"t\"}\n"
                             "{\"id\": \"4\", \"label\": \"apple\", \"text\": \"t\"}\n");
  CHECK(a.label_names == std::vector<std::string>{"apple", "fig", "pear"});
  CHECK(a.records.labels == std::vector<int32_t>{2, 0, 1, 0});
  const SourceData b = jsonl(dir,
                             "{\"id\": \"3\", \"label\": \"fig\", \"text\": \"t\"}\n"
                             "{\"id\": \"1\", \"label\": \"pear\", \"text\": \"t\"}\n");
  CHECK(b.label_names == std::vector<std::string>{"fig", "pear"});
  CHECK(b.records.labels == std::vector<int32_t>{0, 1});
}

TEST_CASE("sources: jsonl reads many records across buffer boundaries", "[sources]") {
  test::TempDir dir;
  std::string text;
  const std::string filler(300, 'x');
  for (int i = 0; i < 20000; ++i) {
    text += fmt::format(R"({{"id": "r{}", "owner": "o{}", "label": "{}", "text": "{}{}"}})",
                        i, i % 97, i % 3, filler, i);
    text += '\n';
  }
  const SourceData d = jsonl(dir, text);
  REQUIRE(d.records.size() == 20000);
  for (int i : {0, 3494, 3495, 12345, 19999}) {
    CHECK(d.records.ids.at(i) == "r" + std::to_string(i));
    CHECK(d.records.owners.at(i) == "o" + std::to_string(i % 97));
    CHECK(d.records.payloads.at(i) == filler + std::to_string(i));
    CHECK(d.records.labels[i] == i % 3);
  }
}

// ===== CSV ===================================================================================

TEST_CASE("sources: csv quoted fields with commas, newlines and escaped quotes", "[sources]") {
  test::TempDir dir;
  const SourceData d = csv(dir,
                           "id,owner,label,text\r\n"
                           "r1,alice,spam,\"hello, world\"\r\n"
                           "\"r2\",,ham,\"line one\nline two \"\"quoted\"\"\"\r\n"
                           "\n"
                           "r3,\"bob, jr\",ham,plain \"inch\" mark\n"
                           "r4,carol,spam,\"\"");
  const RecordBatch& b = d.records;
  REQUIRE(b.size() == 4);
  CHECK(d.label_names == std::vector<std::string>{"ham", "spam"});
  CHECK(b.ids.at(0) == "r1");
  CHECK(b.owners.at(0) == "alice");
  CHECK(b.payloads.at(0) == "hello, world");
  CHECK(b.labels[0] == 1);
  CHECK(b.ids.at(1) == "r2");
  CHECK(b.owners.at(1) == "r2");  // empty owner: the record owns itself
  CHECK(b.payloads.at(1) == "line one\nline two \"quoted\"");
  CHECK(b.owners.at(2) == "bob, jr");
  CHECK(b.payloads.at(2) == "plain \"inch\" mark");
  CHECK(b.payloads.at(3).empty());
  CHECK(b.splits == std::vector<Split>(4, Split::kTrain));
}

TEST_CASE("sources: csv errors name the physical line where the record starts", "[sources]") {
  check_csv_error("id,label,text\n"
                  "a,x,\"multi\nline\ntext\"\n"
                  "b,x,ok,extra\n",
                  5, "the record has 4 fields, expected 3");
  check_csv_error("id,label,text\n"
                  "a,x,\"multi\nline\"\n"
                  "\"b\nb\",x,ok\n"
                  ",x,t\n",
                  6, "field 'id' is empty");
}

TEST_CASE("sources: csv accepts invalid UTF-8 in text", "[sources]") {
  test::TempDir dir;
  const SourceData d = csv(dir, "id,label,text\na,x,caf\xE9 \xFF\xFE\n");
  REQUIRE(d.records.size() == 1);
  CHECK(d.records.payloads.at(0) == "caf\xE9 \xFF\xFE");
}

TEST_CASE("sources: csv rejects invalid UTF-8 in id and owner", "[sources]") {
  check_csv_error("id,label,text\na,x,t\nb\xC3(,x,t\n", 3, "field 'id' is not valid UTF-8");
  check_csv_error("id,owner,label,text\na,\xED\xA0\x80,x,t\n", 2,
                  "field 'owner' is not valid UTF-8");
}

TEST_CASE("sources: csv wrong number of fields", "[sources]") {
  check_csv_error("id,label,text\na,x,t\nb,x\n", 3, "the record has 2 fields, expected 3");
}

TEST_CASE("sources: csv header missing a mapped column", "[sources]") {
  check_csv_error("id,label,body\na,x,t\n", 1,
                  "the header has no column 'text' (columns: id, label, body)");
  TabularOptions o;
  o.payload = "features";
  o.feature_columns = {"f1", "f2"};
  check_csv_error("id,label,f1\na,x,1\n", 1, "no column 'f2'", o);
}

TEST_CASE("sources: csv features and timestamps", "[sources]") {
  test::TempDir dir;
  TabularOptions o;
  o.payload = "features";
  o.feature_columns = {"f2", "f1"};
  o.timestamp_field = "when";
  const SourceData d = csv(dir,
                           "id,label,f1,f2,when\n"
                           "a,1,0.5, -3 ,100\n"
                           "b,0,+2,1e-2,-7\n",
                           o);
  const RecordBatch& b = d.records;
  REQUIRE(b.size() == 2);
  CHECK(b.payload_kind == PayloadKind::kFeatures);
  CHECK(b.payload_type == PayloadType::kF32);
  CHECK(b.payload_shape == std::vector<int64_t>{2});
  CHECK(floats_of(b.payloads.at(0)) == std::vector<float>{-3.0f, 0.5f});
  CHECK(floats_of(b.payloads.at(1)) == std::vector<float>{0.01f, 2.0f});
  CHECK(b.timestamps == std::vector<int64_t>{100, -7});
  CHECK(d.label_names == std::vector<std::string>{"0", "1"});
}

TEST_CASE("sources: csv non-numeric feature names line and column", "[sources]") {
  TabularOptions o;
  o.payload = "features";
  o.feature_columns = {"f1", "f2"};
  check_csv_error("id,label,f1,f2\na,x,1,2\nb,x,3,abc\n", 3, "column 'f2': 'abc' is not", o);
  check_csv_error("id,label,f1,f2\na,x,nan,2\n", 2, "column 'f1'", o);
  check_csv_error("id,label,f1,f2\na,x,,2\n", 2, "column 'f1'", o);
}

TEST_CASE("sources: csv timestamp that is not an integer", "[sources]") {
  TabularOptions o;
  o.timestamp_field = "ts";
  check_csv_error("id,label,text,ts\na,x,t,12\nb,x,t,1.5\n", 3, "column 'ts': '1.5'", o);
}

TEST_CASE("sources: csv label outside the declared set", "[sources]") {
  TabularOptions o;
  o.labels = {"ham", "spam"};
  check_csv_error("id,label,text\na,spam,t\nb,eggs,t\n", 3,
                  "label 'eggs' is not in the declared label set ('ham', 'spam')", o);
}

TEST_CASE("sources: csv inferred labels are sorted", "[sources]") {
  test::TempDir dir;
  const SourceData d = csv(dir, "label,text,id\nb,t,1\nc,t,2\na,t,3\nb,t,4\n");
  CHECK(d.label_names == std::vector<std::string>{"a", "b", "c"});
  CHECK(d.records.labels == std::vector<int32_t>{1, 2, 0, 1});
}

TEST_CASE("sources: csv unterminated quote and stray quote", "[sources]") {
  check_csv_error("id,label,text\na,x,\"never closed\n", 2, "unterminated quoted field");
  check_csv_error("id,label,text\na,x,\"closed\"junk\n", 2, "after the closing quote");
}

TEST_CASE("sources: csv empty file or header only is an empty batch", "[sources]") {
  test::TempDir dir;
  CHECK(csv(dir, "").records.size() == 0);
  const SourceData d = csv(dir, "\xEF\xBB\xBFid,label,text\r\n");  // with a byte-order mark
  CHECK(d.records.size() == 0);
  CHECK(d.records.payload_kind == PayloadKind::kText);
}

TEST_CASE("sources: csv features without feature columns is a usage error", "[sources]") {
  test::TempDir dir;
  TabularOptions o;
  o.payload = "features";
  CHECK(error_of([&] { csv(dir, "id,label\n", o); }).kind() == ErrorKind::kUsage);
}
