#include "src/data/slice_file.h"

#include <hdf5.h>

#include <limits>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "src/common/error.h"
#include "src/common/hash.h"

namespace lethe {

namespace {

constexpr int kFormat = 1;
// Attribute strings are short names; a longer one is damage, not data worth allocating for.
constexpr size_t kMaxAttrString = 256;
constexpr size_t kMaxShapeRank = 32;

const char* const kKinds[] = {"train", "public", "test"};

// --- errors --------------------------------------------------------------------------------

// The innermost message of HDF5's error stack ("truncated file: eof = ...") says more than the
// API call that failed; the stack is cleared so that the next failure starts fresh.
herr_t innermost_error(unsigned n, const H5E_error2_t* err, void* out) {
  if (n == 0 && err->desc) *static_cast<std::string*>(out) = err->desc;
  return 0;
}

std::string hdf5_detail() {
  std::string desc;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_error, &desc);
  H5Eclear2(H5E_DEFAULT);
  return desc.empty() ? std::string() : fmt::format(" (HDF5: {})", desc);
}

// Where a failure is reported: writing failures are system failures (kInternal), reading
// failures mean the stored file is damaged (kIntegrity).
struct Site {
  fs::path path;
  ErrorKind kind;

  [[noreturn]] void fail(std::string_view what) const {
    throw Error(kind, fmt::format("slice file '{}': {}{}", path.string(), what, hdf5_detail()));
  }
  hid_t check(hid_t id, std::string_view what) const {
    if (id < 0) fail(what);
    return id;
  }
  void check_ok(herr_t status, std::string_view what) const {
    if (status < 0) fail(what);
  }
};

// Automatic error printing would write HDF5's stack to stderr for failures we report ourselves.
// The setting is per thread in a thread-safe HDF5 build, hence once per call, not once per process.
void silence_hdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

// --- handles -------------------------------------------------------------------------------

// Owns one hid_t, so that an exception anywhere closes every HDF5 object it opened.
class Handle {
 public:
  Handle(hid_t id, herr_t (*closer)(hid_t)) : id_(id), closer_(closer) {}
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, -1)), closer_(o.closer_) {}
  Handle& operator=(Handle&&) = delete;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id_ >= 0) closer_(id_);
  }
  hid_t get() const { return id_; }
  // Closing can fail (H5Fclose flushes), so the writer closes explicitly and checks.
  herr_t close() { return id_ >= 0 ? closer_(std::exchange(id_, -1)) : 0; }

 private:
  hid_t id_;
  herr_t (*closer_)(hid_t);
};

Handle plist(const Site& site, hid_t cls) {
  return {site.check(H5Pcreate(cls), "cannot create property list"), H5Pclose};
}
Handle scalar_space(const Site& site) {
  return {site.check(H5Screate(H5S_SCALAR), "cannot create dataspace"), H5Sclose};
}
Handle vector_space(const Site& site, uint64_t count) {
  const hsize_t dims[1] = {count};
  return {site.check(H5Screate_simple(1, dims, nullptr), "cannot create dataspace"), H5Sclose};
}

// Slice files are immutable once they have their final name, and the workspace lock serialises
// writers, so HDF5's own flock() would add nothing but failures on file systems without it.
Handle file_access(const Site& site) {
  Handle fapl = plist(site, H5P_FILE_ACCESS);
  site.check_ok(H5Pset_file_locking(fapl.get(), false, true), "cannot configure file locking");
  return fapl;
}

Handle fixed_string_type(const Site& site, size_t size) {
  Handle t{site.check(H5Tcopy(H5T_C_S1), "cannot create string type"), H5Tclose};
  site.check_ok(H5Tset_size(t.get(), size), "cannot size string type");
  return t;
}

// --- names ---------------------------------------------------------------------------------

bool known_kind(const std::string& kind) {
  for (const char* k : kKinds) {
    if (kind == k) return true;
  }
  return false;
}

// Public and test splits are not planned into cells; a train slice always is.
bool cell_matches_kind(const SliceMeta& meta) {
  if (meta.kind == "train") return meta.shard >= 0 && meta.slice >= 0;
  return meta.shard == -1 && meta.slice == -1;
}

bool parse_payload_kind(const std::string& name, PayloadKind* out) {
  for (PayloadKind k : {PayloadKind::kImage, PayloadKind::kText, PayloadKind::kFeatures}) {
    if (name == payload_kind_name(k)) {
      *out = k;
      return true;
    }
  }
  return false;
}

bool parse_payload_type(const std::string& name, PayloadType* out) {
  for (PayloadType t :
       {PayloadType::kU8, PayloadType::kU16, PayloadType::kU32, PayloadType::kF32}) {
    if (name == payload_type_name(t)) {
      *out = t;
      return true;
    }
  }
  return false;
}

// The file type of the payload elements; the payload bytes are already these, little-endian.
hid_t payload_file_type(PayloadType type) {
  switch (type) {
    case PayloadType::kU8: return H5T_STD_U8LE;
    case PayloadType::kU16: return H5T_STD_U16LE;
    case PayloadType::kU32: return H5T_STD_U32LE;
    case PayloadType::kF32: return H5T_IEEE_F32LE;
  }
  return H5T_STD_U8LE;
}

// --- consistency (shared by the writer and the reader) -------------------------------------

// Returns an empty string when `offsets` describes `bytes` bytes cut into `n` pieces, each a
// multiple of `unit` bytes; otherwise what is wrong.
std::string offsets_problem(const std::vector<uint64_t>& offsets, uint64_t n, uint64_t bytes,
                            uint64_t unit, std::string_view name) {
  if (offsets.size() != n + 1) {
    return fmt::format("'{}' has {} entries, expected {} (records + 1)", name, offsets.size(),
                       n + 1);
  }
  if (offsets[0] != 0) return fmt::format("'{}' does not start at 0", name);
  for (size_t i = 1; i < offsets.size(); ++i) {
    if (offsets[i] < offsets[i - 1]) {
      return fmt::format("'{}' decreases at entry {} ({} after {})", name, i, offsets[i],
                         offsets[i - 1]);
    }
    if (offsets[i] % unit != 0) {
      return fmt::format("'{}' entry {} ({}) is not a multiple of the {}-byte element", name, i,
                         offsets[i], unit);
    }
  }
  if (offsets.back() != bytes) {
    return fmt::format("'{}' ends at {} but the column holds {} bytes", name, offsets.back(),
                       bytes);
  }
  return {};
}

// Everything the file format can express must hold of the batch; the writer refuses a batch
// that the reader would reject, so a bad batch fails where it was made, not at the next read.
std::string batch_problem(const RecordBatch& b) {
  if (b.ids.offsets.empty()) return "'id_offsets' is empty";
  const uint64_t n = b.size();
  const uint64_t unit = payload_type_size(b.payload_type);
  for (auto [col, name, u] : {std::tuple{&b.ids, "id_offsets", uint64_t{1}},
                              std::tuple{&b.owners, "owner_offsets", uint64_t{1}},
                              std::tuple{&b.payloads, "payload_offsets", unit}}) {
    std::string p = offsets_problem(col->offsets, n, col->bytes.size(), u, name);
    if (!p.empty()) return p;
  }
  if (b.labels.size() != n) return fmt::format("{} labels for {} records", b.labels.size(), n);
  if (b.splits.size() != n) return fmt::format("{} splits for {} records", b.splits.size(), n);
  if (b.has_timestamps() && b.timestamps.size() != n) {
    return fmt::format("{} timestamps for {} records", b.timestamps.size(), n);
  }
  for (size_t i = 0; i < n; ++i) {
    if (static_cast<uint8_t>(b.splits[i]) > static_cast<uint8_t>(Split::kTest)) {
      return fmt::format("record {} has unknown split {}", i, static_cast<int>(b.splits[i]));
    }
  }
  // A fixed per-record shape promises every payload has exactly that many elements.
  if (!b.payload_shape.empty()) {
    if (b.payload_shape.size() > kMaxShapeRank) return "payload shape has too many dimensions";
    uint64_t elements = 1;
    for (int64_t d : b.payload_shape) {
      if (d < 0) return fmt::format("payload shape has a negative dimension {}", d);
      if (d > 0 && elements > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d)) {
        return "payload shape overflows";
      }
      elements *= static_cast<uint64_t>(d);
    }
    for (size_t i = 0; i < n; ++i) {
      const uint64_t got = (b.payloads.offsets[i + 1] - b.payloads.offsets[i]) / unit;
      if (got != elements) {
        return fmt::format("record {} has {} payload elements but the shape says {}", i, got,
                           elements);
      }
    }
  }
  return {};
}

// --- writing -------------------------------------------------------------------------------

void write_scalar_attr(const Site& site, hid_t loc, const char* name, hid_t file_type,
                       hid_t mem_type, const void* value) {
  Handle space = scalar_space(site);
  Handle attr{site.check(H5Acreate2(loc, name, file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                         fmt::format("cannot create attribute '{}'", name)),
              H5Aclose};
  site.check_ok(H5Awrite(attr.get(), mem_type, value),
                fmt::format("cannot write attribute '{}'", name));
}

void write_string_attr(const Site& site, hid_t loc, const char* name, const std::string& value) {
  // Fixed length, NUL-terminated: no global heap, so nothing but the bytes themselves varies.
  Handle type = fixed_string_type(site, value.size() + 1);
  write_scalar_attr(site, loc, name, type.get(), type.get(), value.c_str());
}

void write_shape_attr(const Site& site, hid_t loc, const std::vector<int64_t>& shape) {
  Handle space = vector_space(site, shape.size());
  Handle attr{site.check(H5Acreate2(loc, "payload_shape", H5T_STD_I64LE, space.get(), H5P_DEFAULT,
                                    H5P_DEFAULT),
                         "cannot create attribute 'payload_shape'"),
              H5Aclose};
  // H5Awrite rejects a null buffer even for zero elements; an empty vector's data() may be null.
  const int64_t none = 0;
  site.check_ok(H5Awrite(attr.get(), H5T_NATIVE_INT64, shape.empty() ? &none : shape.data()),
                "cannot write attribute 'payload_shape'");
}

void write_dataset(const Site& site, hid_t file, hid_t dcpl, const char* name, hid_t file_type,
                   hid_t mem_type, const void* data, uint64_t count) {
  Handle space = vector_space(site, count);
  Handle ds{
      site.check(H5Dcreate2(file, name, file_type, space.get(), H5P_DEFAULT, dcpl, H5P_DEFAULT),
                 fmt::format("cannot create dataset '{}'", name)),
      H5Dclose};
  // A zero-length dataset has nothing to write (and the buffer may be null).
  if (count > 0) {
    site.check_ok(H5Dwrite(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data),
                  fmt::format("cannot write dataset '{}'", name));
  }
  site.check_ok(ds.close(), fmt::format("cannot close dataset '{}'", name));
}

void write_hdf5(const Site& site, const RecordBatch& batch, const SliceMeta& meta) {
  // No object times anywhere (they would make every write unique; the root group takes its
  // setting from the file creation list), and the 1.8 object format at both bounds, so that a
  // newer library default cannot change the bytes and all metadata carries checksums.
  Handle fcpl = plist(site, H5P_FILE_CREATE);
  site.check_ok(H5Pset_obj_track_times(fcpl.get(), false), "cannot configure file creation");
  Handle fapl = file_access(site);
  site.check_ok(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_V18),
                "cannot configure file access");
  // Contiguous and unfiltered: the data bytes appear verbatim in the file (the deletion proof
  // greps for them). No fill value is ever written: every byte is written by H5Dwrite.
  Handle dcpl = plist(site, H5P_DATASET_CREATE);
  site.check_ok(H5Pset_obj_track_times(dcpl.get(), false), "cannot configure dataset creation");
  site.check_ok(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS), "cannot configure dataset layout");
  site.check_ok(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), "cannot configure fill time");

  Handle file{site.check(H5Fcreate(site.path.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get()),
                         "cannot create file"),
              H5Fclose};
  {
    Handle root{site.check(H5Gopen2(file.get(), "/", H5P_DEFAULT), "cannot open root group"),
                H5Gclose};
    const hid_t r = root.get();
    const int32_t format = kFormat;
    const int32_t shard = meta.shard;
    const int32_t slice = meta.slice;
    const uint64_t records = batch.size();
    write_scalar_attr(site, r, "lethe_format", H5T_STD_I32LE, H5T_NATIVE_INT32, &format);
    write_string_attr(site, r, "kind", meta.kind);
    write_scalar_attr(site, r, "shard", H5T_STD_I32LE, H5T_NATIVE_INT32, &shard);
    write_scalar_attr(site, r, "slice", H5T_STD_I32LE, H5T_NATIVE_INT32, &slice);
    write_string_attr(site, r, "payload_kind", payload_kind_name(batch.payload_kind));
    write_string_attr(site, r, "payload_type", payload_type_name(batch.payload_type));
    write_shape_attr(site, r, batch.payload_shape);
    write_scalar_attr(site, r, "records", H5T_STD_U64LE, H5T_NATIVE_UINT64, &records);
    site.check_ok(root.close(), "cannot close root group");

    const hid_t f = file.get();
    const hid_t d = dcpl.get();
    const uint64_t n = batch.size();
    write_dataset(site, f, d, "ids", H5T_STD_U8LE, H5T_NATIVE_UINT8, batch.ids.bytes.data(),
                  batch.ids.bytes.size());
    write_dataset(site, f, d, "id_offsets", H5T_STD_U64LE, H5T_NATIVE_UINT64,
                  batch.ids.offsets.data(), n + 1);
    write_dataset(site, f, d, "owners", H5T_STD_U8LE, H5T_NATIVE_UINT8, batch.owners.bytes.data(),
                  batch.owners.bytes.size());
    write_dataset(site, f, d, "owner_offsets", H5T_STD_U64LE, H5T_NATIVE_UINT64,
                  batch.owners.offsets.data(), n + 1);
    // Memory type = file type: the little-endian bytes go to disk without conversion.
    const hid_t ptype = payload_file_type(batch.payload_type);
    write_dataset(site, f, d, "payloads", ptype, ptype, batch.payloads.bytes.data(),
                  batch.payloads.bytes.size() / payload_type_size(batch.payload_type));
    write_dataset(site, f, d, "payload_offsets", H5T_STD_U64LE, H5T_NATIVE_UINT64,
                  batch.payloads.offsets.data(), n + 1);
    write_dataset(site, f, d, "labels", H5T_STD_I32LE, H5T_NATIVE_INT32, batch.labels.data(), n);
    static_assert(sizeof(Split) == 1, "splits are stored as one byte each");
    write_dataset(site, f, d, "splits", H5T_STD_U8LE, H5T_NATIVE_UINT8, batch.splits.data(), n);
    if (batch.has_timestamps()) {
      write_dataset(site, f, d, "timestamps", H5T_STD_I64LE, H5T_NATIVE_INT64,
                    batch.timestamps.data(), n);
    }
  }
  // Closing flushes the metadata; a failure here means the file is incomplete.
  site.check_ok(file.close(), "cannot close file");
}

// Removes the temporary file unless the write got as far as renaming it.
struct TempFile {
  fs::path path;
  bool committed = false;
  ~TempFile() {
    if (committed) return;
    std::error_code ec;
    fs::remove(path, ec);
  }
};

// --- reading -------------------------------------------------------------------------------

struct Reader {
  Site site;
  hid_t file;
  uint64_t file_bytes;  // bounds every allocation: a damaged extent cannot ask for more

  Handle open_attr(const char* name) const {
    const htri_t exists = H5Aexists(file, name);
    if (exists < 0) site.fail(fmt::format("cannot look up attribute '{}'", name));
    if (exists == 0) site.fail(fmt::format("attribute '{}' is missing", name));
    return {site.check(H5Aopen(file, name, H5P_DEFAULT),
                       fmt::format("cannot open attribute '{}'", name)),
            H5Aclose};
  }

  // Number of elements of a one-dimensional attribute or dataset space; `scalar` demands a
  // scalar space instead.
  uint64_t extent(hid_t space_id, const char* name, bool scalar) const {
    Handle space{site.check(space_id, fmt::format("cannot get the dataspace of '{}'", name)),
                 H5Sclose};
    const H5S_class_t cls = H5Sget_simple_extent_type(space.get());
    if (scalar) {
      if (cls != H5S_SCALAR) site.fail(fmt::format("'{}' is not a scalar", name));
      return 1;
    }
    if (cls != H5S_SIMPLE || H5Sget_simple_extent_ndims(space.get()) != 1) {
      site.fail(fmt::format("'{}' is not one-dimensional", name));
    }
    hsize_t dims[1] = {0};
    site.check_ok(H5Sget_simple_extent_dims(space.get(), dims, nullptr),
                  fmt::format("cannot get the extent of '{}'", name));
    return dims[0];
  }

  void require_type(hid_t type_id, hid_t expected, const char* name,
                    const char* expected_name) const {
    Handle type{site.check(type_id, fmt::format("cannot get the type of '{}'", name)), H5Tclose};
    const htri_t same = H5Tequal(type.get(), expected);
    if (same < 0) site.fail(fmt::format("cannot compare the type of '{}'", name));
    if (same == 0) site.fail(fmt::format("'{}' is not of type {}", name, expected_name));
  }

  template <typename T>
  T scalar_attr(const char* name, hid_t file_type, hid_t mem_type, const char* type_name) const {
    Handle attr = open_attr(name);
    require_type(H5Aget_type(attr.get()), file_type, name, type_name);
    extent(H5Aget_space(attr.get()), name, true);
    T value{};
    site.check_ok(H5Aread(attr.get(), mem_type, &value),
                  fmt::format("cannot read attribute '{}'", name));
    return value;
  }

  std::string string_attr(const char* name) const {
    Handle attr = open_attr(name);
    Handle type{
        site.check(H5Aget_type(attr.get()), fmt::format("cannot get the type of '{}'", name)),
        H5Tclose};
    const size_t size = H5Tget_size(type.get());
    if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) != 0 ||
        size == 0 || size > kMaxAttrString) {
      site.fail(fmt::format("attribute '{}' is not a short fixed-length string", name));
    }
    extent(H5Aget_space(attr.get()), name, true);
    std::string value(size, '\0');
    site.check_ok(H5Aread(attr.get(), type.get(), value.data()),
                  fmt::format("cannot read attribute '{}'", name));
    value.resize(value.find('\0') == std::string::npos ? size : value.find('\0'));
    return value;
  }

  std::vector<int64_t> shape_attr() const {
    Handle attr = open_attr("payload_shape");
    require_type(H5Aget_type(attr.get()), H5T_STD_I64LE, "payload_shape", "int64");
    const uint64_t rank = extent(H5Aget_space(attr.get()), "payload_shape", false);
    if (rank > kMaxShapeRank) site.fail("'payload_shape' has too many dimensions");
    std::vector<int64_t> shape(rank);
    if (rank > 0) {
      site.check_ok(H5Aread(attr.get(), H5T_NATIVE_INT64, shape.data()),
                    "cannot read attribute 'payload_shape'");
    }
    return shape;
  }

  bool has_dataset(const char* name) const {
    const htri_t exists = H5Lexists(file, name, H5P_DEFAULT);
    if (exists < 0) site.fail(fmt::format("cannot look up dataset '{}'", name));
    return exists > 0;
  }

  // Reads all of dataset `name`, which must be one-dimensional with file type exactly
  // `file_type`, into `out`, a vector or string whose elements are `mem_type`'s size, or bytes.
  template <typename Buffer>
  void dataset(const char* name, hid_t file_type, hid_t mem_type, const char* type_name,
               Buffer* out) const {
    if (!has_dataset(name)) site.fail(fmt::format("dataset '{}' is missing", name));
    Handle ds{site.check(H5Dopen2(file, name, H5P_DEFAULT),
                         fmt::format("cannot open dataset '{}'", name)),
              H5Dclose};
    require_type(H5Dget_type(ds.get()), file_type, name, type_name);
    const uint64_t count = extent(H5Dget_space(ds.get()), name, false);
    const size_t element = sizeof((*out)[0]);
    const uint64_t file_element = H5Tget_size(file_type);
    if (count > file_bytes / file_element) {
      site.fail(
          fmt::format("dataset '{}' claims {} elements, more than the file holds", name, count));
    }
    out->clear();
    out->resize(static_cast<size_t>(count * file_element / element));
    if (count > 0) {
      site.check_ok(H5Dread(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out->data()),
                    fmt::format("cannot read dataset '{}'", name));
    }
  }

  void require(uint64_t got, uint64_t n, const char* name) const {
    if (got != n) {
      site.fail(fmt::format("dataset '{}' has {} entries for {} records", name, got, n));
    }
  }
};

}  // namespace

WrittenSlice write_slice_file(const fs::path& dir, const std::string& stem,
                              const RecordBatch& batch, const SliceMeta& meta) {
  silence_hdf5();
  const auto refuse = [&](const std::string& why) {
    fail(ErrorKind::kInternal, "refusing to write slice file '{}' in '{}': {}", stem, dir.string(),
         why);
  };
  if (!known_kind(meta.kind)) refuse(fmt::format("unknown kind '{}'", meta.kind));
  if (!cell_matches_kind(meta)) {
    refuse(fmt::format("{} slice with shard {} and slice {}", meta.kind, meta.shard, meta.slice));
  }
  if (std::string why = batch_problem(batch); !why.empty()) refuse(why);

  // The final name depends on the bytes, so the temporary name derives from the stem alone.
  TempFile tmp{temp_sibling(dir / (stem + ".h5"))};
  write_hdf5(Site{tmp.path, ErrorKind::kInternal}, batch, meta);
  // commit_rename fsyncs the file before renaming it; hashing first reads the same bytes.
  WrittenSlice out;
  out.hash = hash_file(tmp.path);
  std::error_code ec;
  out.bytes = fs::file_size(tmp.path, ec);
  if (ec) fail(ErrorKind::kInternal, "cannot stat '{}': {}", tmp.path.string(), ec.message());
  out.path = dir / fmt::format("{}-{}.h5", stem, out.hash.substr(0, 16));
  commit_rename(tmp.path, out.path);
  tmp.committed = true;
  return out;
}

RecordBatch read_slice_file(const fs::path& path, SliceMeta* meta) {
  silence_hdf5();
  const Site site{path, ErrorKind::kIntegrity};
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (!fs::exists(st)) fail(ErrorKind::kNotFound, "slice file '{}' does not exist", path.string());
  if (!fs::is_regular_file(st)) site.fail("not a regular file");
  const uint64_t file_bytes = fs::file_size(path, ec);
  if (ec) site.fail(fmt::format("cannot get its size: {}", ec.message()));

  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 < 0) site.fail("cannot be read");
  if (is_hdf5 == 0) site.fail("not an HDF5 file");
  Handle fapl = file_access(site);
  Handle file{site.check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), "cannot open as HDF5"),
              H5Fclose};
  const Reader r{site, file.get(), file_bytes};

  const int32_t format =
      r.scalar_attr<int32_t>("lethe_format", H5T_STD_I32LE, H5T_NATIVE_INT32, "int32");
  if (format != kFormat) site.fail(fmt::format("unsupported lethe_format {}", format));
  SliceMeta m;
  m.kind = r.string_attr("kind");
  m.shard = r.scalar_attr<int32_t>("shard", H5T_STD_I32LE, H5T_NATIVE_INT32, "int32");
  m.slice = r.scalar_attr<int32_t>("slice", H5T_STD_I32LE, H5T_NATIVE_INT32, "int32");
  if (!known_kind(m.kind)) site.fail(fmt::format("unknown kind '{}'", m.kind));
  if (!cell_matches_kind(m)) {
    site.fail(fmt::format("{} slice with shard {} and slice {}", m.kind, m.shard, m.slice));
  }

  RecordBatch b;
  const std::string kind_name = r.string_attr("payload_kind");
  if (!parse_payload_kind(kind_name, &b.payload_kind)) {
    site.fail(fmt::format("unknown payload_kind '{}'", kind_name));
  }
  const std::string type_name = r.string_attr("payload_type");
  if (!parse_payload_type(type_name, &b.payload_type)) {
    site.fail(fmt::format("unknown payload_type '{}'", type_name));
  }
  b.payload_shape = r.shape_attr();
  const uint64_t n = r.scalar_attr<uint64_t>("records", H5T_STD_U64LE, H5T_NATIVE_UINT64, "uint64");
  if (n > file_bytes) site.fail(fmt::format("claims {} records, more than the file could hold", n));

  r.dataset("ids", H5T_STD_U8LE, H5T_NATIVE_UINT8, "uint8", &b.ids.bytes);
  r.dataset("id_offsets", H5T_STD_U64LE, H5T_NATIVE_UINT64, "uint64", &b.ids.offsets);
  r.dataset("owners", H5T_STD_U8LE, H5T_NATIVE_UINT8, "uint8", &b.owners.bytes);
  r.dataset("owner_offsets", H5T_STD_U64LE, H5T_NATIVE_UINT64, "uint64", &b.owners.offsets);
  const hid_t ptype = payload_file_type(b.payload_type);
  r.dataset("payloads", ptype, ptype, type_name.c_str(), &b.payloads.bytes);
  r.dataset("payload_offsets", H5T_STD_U64LE, H5T_NATIVE_UINT64, "uint64", &b.payloads.offsets);
  r.dataset("labels", H5T_STD_I32LE, H5T_NATIVE_INT32, "int32", &b.labels);
  r.require(b.labels.size(), n, "labels");
  std::vector<uint8_t> splits;
  r.dataset("splits", H5T_STD_U8LE, H5T_NATIVE_UINT8, "uint8", &splits);
  r.require(splits.size(), n, "splits");
  b.splits.reserve(splits.size());
  for (uint8_t s : splits) b.splits.push_back(static_cast<Split>(s));
  if (r.has_dataset("timestamps")) {
    r.dataset("timestamps", H5T_STD_I64LE, H5T_NATIVE_INT64, "int64", &b.timestamps);
    r.require(b.timestamps.size(), n, "timestamps");
  }
  if (std::string why = batch_problem(b); !why.empty()) site.fail(why);
  if (meta) *meta = std::move(m);
  return b;
}

std::string slice_stem(const std::string& kind, int shard, int slice) {
  return kind == "train" ? fmt::format("train-s{:03}-l{:02}", shard, slice) : kind;
}

}  // namespace lethe
