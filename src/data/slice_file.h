// The slice store: one HDF5 file per RecordBatch (a (shard, slice) cell of a data plan, or the
// public or test split), named by the hash of its bytes.
//
// File layout, format 1 (every dataset one-dimensional, contiguous, unfiltered, little-endian):
//
//   root attributes
//     lethe_format   int32 scalar    1
//     kind           fixed string    "train", "public" or "test"
//     shard, slice   int32 scalar    the plan cell; -1 for public and test
//     payload_kind   fixed string    payload_kind_name(): "image", "text" or "features"
//     payload_type   fixed string    payload_type_name(): "u8", "u16", "u32" or "f32"
//     payload_shape  int64[k]        per-record shape; k may be 0 (always present)
//     records        uint64 scalar   n, the number of records
//   datasets
//     ids, owners          uint8[*]     the columns' bytes, concatenated
//     id_offsets,
//     owner_offsets        uint64[n+1]  byte offsets into the column above: 0, ..., byte count
//     payloads             payload_type elements (u8/u16/u32 LE, f32 IEEE LE), the payload bytes
//                                       verbatim: a text payload's bytes sit contiguously in the
//                                       file, which the deletion proof greps for
//     payload_offsets      uint64[n+1]  offsets in BYTES (not elements), each a multiple of the
//                                       element size
//     labels               int32[n]
//     splits               uint8[n]     Split values 0..2
//     timestamps           int64[n]     only when the batch has timestamps
//
// Zero-record batches are ordinary files with zero-length datasets.
//
// Files are reproducible: object times are not recorded, objects are created in a fixed order and
// the format version is pinned, so the same batch gives the same bytes (and name) on every run.
// The HDF5 1.8 object format is used for its metadata checksums, so most damage to the structure
// is caught on open; damage to the data bytes is caught by the caller comparing hash_file() with
// the hash recorded at write time, which read_slice_file() does not do.
#pragma once

#include <cstdint>
#include <string>

#include "src/common/fs.h"
#include "src/data/records.h"

namespace lethe {

struct SliceMeta {
  std::string kind;  // "train", "public" or "test"
  int shard = -1;    // -1 for public/test
  int slice = -1;
};

struct WrittenSlice {
  fs::path path;       // dir / (stem + "-" + first 16 hex chars of hash + ".h5")
  std::string hash;    // BLAKE2b-256 hex of the whole file's bytes (hash_file)
  uint64_t bytes = 0;  // file size
};

// Writes `batch` atomically: to a temporary sibling, fsync, hash, then commit_rename onto the
// content-addressed final name (an existing file of that name has the same bytes). An
// inconsistent batch or meta (a train slice needs shard, slice >= 0; public/test need -1, -1) is
// a bug in the caller: ErrorKind::kInternal, and nothing is written. `dir` must exist. The
// temporary name derives from `stem` (the final name is known only after hashing), so one
// process must not write the same stem from two threads at once.
WrittenSlice write_slice_file(const fs::path& dir, const std::string& stem,
                              const RecordBatch& batch, const SliceMeta& meta);

// The file name stem of a slice: "train-s003-l01", "public" or "test".
std::string slice_stem(const std::string& kind, int shard, int slice);

// Reads a slice file back, validating every column. A missing file is ErrorKind::kNotFound;
// anything missing, malformed or inconsistent in it is ErrorKind::kIntegrity naming the file and
// the problem.
RecordBatch read_slice_file(const fs::path& path, SliceMeta* meta = nullptr);

}  // namespace lethe
