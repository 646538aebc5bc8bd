// libFuzzer target for the CSV dataset reader (src/data/source_csv.cpp), which reads whatever
// file a user ingests. The first byte chooses the options (bit 0: a features payload from
// columns x and y, bit 1: a timestamp column "ts", bit 2: a declared label set); the rest is
// the file. Any input must read or be rejected with lethe::Error; anything else is a finding.
#include <cstddef>
#include <cstdint>

#include "src/common/error.h"
#include "src/data/sources.h"
#include "tests/fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  lethe::TabularOptions o;
  if (data[0] & 1) {
    o.payload = "features";
    o.feature_columns = {"x", "y"};
  }
  if (data[0] & 2) o.timestamp_field = "ts";
  if (data[0] & 4) o.labels = {"a", "b"};
  const auto path = lethe::fuzz::write_scratch("data.csv", data + 1, size - 1);
  try {
    const lethe::SourceData d = lethe::read_csv(path, o);
    if (d.records.labels.size() != d.records.size()) __builtin_trap();
  } catch (const lethe::Error&) {
  }
  return 0;
}
