// Turning stored records into model inputs: tokens (right-padded, truncated to max_seq_len),
// images scaled to [0, 1], or feature vectors; labels as int64.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "src/data/records.h"
#include "src/models/model.h"

namespace lethe {

struct LabeledInput {
  ModelInput input;
  at::Tensor labels;  // int64 [B]
};

// The rows `rows` of `batch` as one model batch. ErrorKind::kIntegrity when a record does not
// fit the spec (a token outside the vocabulary, an image of another size, a feature vector of
// another length), naming the record.
LabeledInput make_input(const ModelSpec& spec, const RecordBatch& batch,
                        const std::vector<uint32_t>& rows);

// `li` with every tensor moved to `device` (inputs are built on the CPU, where the records are).
LabeledInput on_device(LabeledInput li, c10::Device device);

}  // namespace lethe
