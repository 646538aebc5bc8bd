// Fashion-MNIST from the idx files of Debian's fashion-mnist package.
#include <algorithm>
#include <cmath>

#include "src/common/error.h"
#include "src/data/idx_file.h"
#include "src/data/sources.h"

namespace lethe {
namespace {

constexpr int64_t kSide = 28;
constexpr int64_t kMaxOwners = 100'000'000;  // the owner table is 8 bytes per owner
const char* const kLabelNames[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                   "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

// Debian ships the .gz files; an unpacked copy (same names without .gz) works as well.
fs::path locate(const fs::path& dir, const std::string& name) {
  std::error_code ec;
  fs::path gz = dir / (name + ".gz");
  if (fs::exists(gz, ec)) return gz;
  fs::path plain = dir / name;
  if (fs::exists(plain, ec)) return plain;
  fail(ErrorKind::kNotFound, "Fashion-MNIST file '{}' not found (nor '{}')", gz.string(),
       plain.string());
}

struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
};

// Owner ranks drawn from Zipf(s) over 0..n-1 by inverse CDF: our own generator and arithmetic,
// so the same seed gives the same owners with any standard library.
class ZipfOwners {
 public:
  ZipfOwners(int64_t n, double s, uint64_t seed) : rng_{seed} {
    cumulative_.reserve(static_cast<size_t>(n));
    double total = 0;
    for (int64_t k = 0; k < n; ++k) {
      total += 1.0 / std::pow(static_cast<double>(k + 1), s);  // s = 0: uniform
      cumulative_.push_back(total);
    }
  }
  int64_t next() {
    const double u = rng_.uniform() * cumulative_.back();
    const auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), u);
    return std::min<int64_t>(it - cumulative_.begin(), static_cast<int64_t>(cumulative_.size()) - 1);
  }

 private:
  SplitMix64 rng_;
  std::vector<double> cumulative_;
};

void check_labels(const Idx& labels, const fs::path& path) {
  for (size_t i = 0; i < labels.data.size(); ++i) {
    const auto value = static_cast<unsigned char>(labels.data[i]);
    if (value >= std::size(kLabelNames)) {
      fail(ErrorKind::kInput, "Fashion-MNIST file '{}': label {} of item {} is not in 0..9",
           path.string(), value, i);
    }
  }
}

void check_counts(const Idx& images, const fs::path& images_path, const Idx& labels,
                  const fs::path& labels_path) {
  if (images.count != labels.count) {
    fail(ErrorKind::kInput, "Fashion-MNIST files disagree: '{}' has {} images but '{}' has {} "
         "labels", images_path.string(), images.count, labels_path.string(), labels.count);
  }
}

}  // namespace

SourceData read_fashion_mnist(const FashionMnistOptions& options) {
  if (options.num_owners < 1 || options.num_owners > kMaxOwners) {
    fail(ErrorKind::kUsage, "Fashion-MNIST num_owners must be in 1..{}, got {}", kMaxOwners,
         options.num_owners);
  }
  if (!(options.owner_skew >= 0) || !std::isfinite(options.owner_skew)) {
    fail(ErrorKind::kUsage, "Fashion-MNIST owner_skew must be a finite number >= 0, got {}",
         options.owner_skew);
  }
  if (options.limit < 0) {
    fail(ErrorKind::kUsage, "Fashion-MNIST limit must be >= 0, got {}", options.limit);
  }
  std::error_code ec;
  if (!fs::is_directory(options.dir, ec)) {
    fail(ErrorKind::kNotFound, "Fashion-MNIST directory '{}' not found (install Debian's "
         "fashion-mnist package or set data.path)", options.dir.string());
  }

  // Whole files are always read, even with a limit: a truncated or corrupt file must fail
  // the same way whatever the limit.
  const std::vector<uint32_t> image_dims{kSide, kSide};
  const fs::path train_images_path = locate(options.dir, "train-images-idx3-ubyte");
  const fs::path train_labels_path = locate(options.dir, "train-labels-idx1-ubyte");
  const fs::path test_images_path = locate(options.dir, "t10k-images-idx3-ubyte");
  const fs::path test_labels_path = locate(options.dir, "t10k-labels-idx1-ubyte");
  const Idx train_images = read_idx(train_images_path, kIdxImagesMagic, image_dims);
  const Idx train_labels = read_idx(train_labels_path, kIdxLabelsMagic, {});
  const Idx test_images = read_idx(test_images_path, kIdxImagesMagic, image_dims);
  const Idx test_labels = read_idx(test_labels_path, kIdxLabelsMagic, {});
  check_counts(train_images, train_images_path, train_labels, train_labels_path);
  check_counts(test_images, test_images_path, test_labels, test_labels_path);
  check_labels(train_labels, train_labels_path);
  check_labels(test_labels, test_labels_path);

  size_t n_train = train_images.count, n_test = test_images.count;
  if (options.limit > 0) {
    const auto limit = static_cast<size_t>(options.limit);
    n_train = std::min(n_train, limit);
    n_test = std::min(n_test, std::max<size_t>(limit / 6, 1));
  }

  SourceData out;
  out.label_names.assign(std::begin(kLabelNames), std::end(kLabelNames));
  RecordBatch& batch = out.records;
  batch.payload_kind = PayloadKind::kImage;
  batch.payload_type = PayloadType::kU8;
  batch.payload_shape = {kSide, kSide};
  const size_t n = n_train + n_test;
  const size_t pixels = static_cast<size_t>(kSide * kSide);
  batch.ids.reserve(n, n * 11);
  batch.owners.reserve(n, n_train * 10 + n_test * 10);
  batch.payloads.reserve(n, n * pixels);
  batch.labels.reserve(n);
  batch.splits.reserve(n);

  // Owners are drawn in record order, so a smaller limit gives a prefix of the same owners.
  ZipfOwners owners(options.num_owners, options.owner_skew, options.seed);
  char id[32], owner[32];
  for (size_t i = 0; i < n_train; ++i) {
    const auto id_len = fmt::format_to_n(id, sizeof id, "train-{:05d}", i).size;
    const auto owner_len = fmt::format_to_n(owner, sizeof owner, "user-{}", owners.next()).size;
    batch.ids.push(std::string_view(id, id_len));
    batch.owners.push(std::string_view(owner, owner_len));
    batch.payloads.push(std::string_view(train_images.data).substr(i * pixels, pixels));
    batch.labels.push_back(static_cast<unsigned char>(train_labels.data[i]));
    batch.splits.push_back(Split::kTrain);
  }
  for (size_t i = 0; i < n_test; ++i) {
    const auto id_len = fmt::format_to_n(id, sizeof id, "test-{:05d}", i).size;
    batch.ids.push(std::string_view(id, id_len));
    batch.owners.push(std::string_view(id, id_len));  // test images are nobody's data
    batch.payloads.push(std::string_view(test_images.data).substr(i * pixels, pixels));
    batch.labels.push_back(static_cast<unsigned char>(test_labels.data[i]));
    batch.splits.push_back(Split::kTest);
  }
  return out;
}

}  // namespace lethe
