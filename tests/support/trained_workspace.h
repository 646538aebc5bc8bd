// One trained workspace shared by the end-to-end tests that start from one, instead of each
// running init, ingest, pretrain and train again: Fashion-MNIST (4,000 images) in 4 shards x 2
// slices, a 2-layer model, a base pretrained for 1 epoch and S3T trained (1 epoch a stage),
// with these settings in its lethe.toml (kTrainedConfig).
//
// ctest builds it once per run (the setup test "e2e: fixture: ...", FIXTURES_SETUP in
// tests/CMakeLists.txt) before the tests tagged [trained], which copy it. A test run directly
// builds it when it is missing or older than the lethe binary. Tests never use it in place:
// each works on its own copy, so they may change it and run in parallel.
#pragma once

#include "src/common/fs.h"

namespace lethe::test {

// The settings of the shared workspace, as a lethe.toml.
inline constexpr const char* kTrainedConfig =
    "[plan]\nslices = 2\n[model]\nnum_layers = 2\n[train]\nepochs_per_stage = 1\n[pretrain]\nepochs = 1\n";

// Builds the shared workspace again (in a temporary sibling, renamed into place).
void build_trained_workspace();

// Copies the shared workspace to `dest` (which must not exist), building it first when it is
// missing or older than the lethe binary.
void copy_trained_workspace(const fs::path& dest);

}  // namespace lethe::test
