// IDX files, gzipped or not: see idx_file.h.
#include "src/data/idx_file.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>

#include "src/common/error.h"

namespace lethe {
namespace {

class GzReader {
 public:
  explicit GzReader(const fs::path& path) : path_(path) {
    errno = 0;
    file_ = gzopen(path.c_str(), "rb");  // reads uncompressed files transparently
    if (!file_) fail_errno("cannot open Fashion-MNIST file", path.string());
    gzbuffer(file_, 1u << 18);
  }
  ~GzReader() {
    if (file_) gzclose(file_);
  }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  // Reads up to `n` bytes; fewer only at the end of the data. Fails naming the file on corrupt
  // gzip data, including a stream cut short (zlib reports that as Z_BUF_ERROR, not as -1).
  size_t read_some(char* out, size_t n) {
    size_t got = 0;
    while (got < n) {
      const auto chunk = static_cast<unsigned>(std::min<size_t>(n - got, size_t{1} << 30));
      const int r = gzread(file_, out + got, chunk);
      if (r < 0) fail_zlib();
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    if (got < n) check_zlib();
    return got;
  }

  // Reads exactly `n` bytes of `what`, or fails naming the file.
  void read_exact(void* out, size_t n, const char* what) {
    const size_t got = read_some(static_cast<char*>(out), n);
    if (got < n) {
      fail(ErrorKind::kInput,
           "Fashion-MNIST file '{}' is truncated: expected {} bytes of {}, it ends after {}",
           path_.string(), n, what, got);
    }
  }

  // Reads to the end: gzip verifies its CRC and length only there, and anything after the data
  // the header declares means the header is wrong.
  void expect_end() {
    char extra;
    const int r = gzread(file_, &extra, 1);
    if (r < 0) fail_zlib();
    check_zlib();
    if (r > 0) {
      fail(ErrorKind::kInput, "Fashion-MNIST file '{}' has more data than its header declares",
           path_.string());
    }
    const int rc = gzclose(file_);
    file_ = nullptr;
    if (rc != Z_OK) {
      fail(ErrorKind::kInput, "Fashion-MNIST file '{}' is truncated or corrupt (zlib error {})",
           path_.string(), rc);
    }
  }

 private:
  void check_zlib() {
    int err = Z_OK;
    gzerror(file_, &err);
    if (err != Z_OK) fail_zlib();
  }
  [[noreturn]] void fail_zlib() {
    int err = Z_OK;
    const char* message = gzerror(file_, &err);
    if (err == Z_ERRNO) fail_errno("cannot read Fashion-MNIST file", path_.string());
    fail(ErrorKind::kInput, "Fashion-MNIST file '{}' cannot be decompressed: {} (truncated or "
         "corrupt gzip data)", path_.string(), message ? message : "unknown zlib error");
  }

  fs::path path_;
  gzFile file_ = nullptr;
};

uint32_t big_endian32(const unsigned char* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

}  // namespace

Idx read_idx(const fs::path& path, uint32_t magic, const std::vector<uint32_t>& item_dims) {
  unsigned char header[16];
  if (item_dims.size() > 2) fail(ErrorKind::kInternal, "idx items of more than 2 dimensions are not read");
  GzReader in(path);
  // The magic alone first: a wrong file should say so, not that its header is short.
  in.read_exact(header, 4, "header");
  const uint32_t got_magic = big_endian32(header);
  if (got_magic != magic) {
    fail(ErrorKind::kInput, "Fashion-MNIST file '{}' is not an idx {} file (magic 0x{:08x}, "
         "expected 0x{:08x})", path.string(), magic == kIdxImagesMagic ? "image" : "label",
         got_magic, magic);
  }
  in.read_exact(header + 4, 4 * (1 + item_dims.size()), "header");
  Idx idx;
  idx.count = big_endian32(header + 4);
  uint64_t item_size = 1;
  for (size_t d = 0; d < item_dims.size(); ++d) {
    const uint32_t dim = big_endian32(header + 8 + 4 * d);
    if (dim != item_dims[d]) {
      fail(ErrorKind::kInput, "Fashion-MNIST file '{}': dimension {} is {}, expected {}",
           path.string(), d + 1, dim, item_dims[d]);
    }
    item_size *= dim;
  }
  // The count is not trusted with an allocation (4 billion 28x28 images would be 3 TB): the
  // data is read in bounded chunks, so memory follows what the file holds, and a count it does
  // not hold fails as truncated.
  const uint64_t declared = uint64_t{idx.count} * item_size;
  constexpr uint64_t kChunk = uint64_t{1} << 24;
  while (idx.data.size() < declared) {
    const size_t at = idx.data.size();
    const auto want = static_cast<size_t>(std::min(kChunk, declared - at));
    idx.data.resize(at + want);
    const size_t got = in.read_some(idx.data.data() + at, want);
    if (got < want) {
      fail(ErrorKind::kInput, "Fashion-MNIST file '{}' is truncated: its header declares {} items ({} bytes "
           "of data), it holds {} bytes", path.string(), idx.count, declared, at + got);
    }
  }
  in.expect_end();
  return idx;
}

}  // namespace lethe
