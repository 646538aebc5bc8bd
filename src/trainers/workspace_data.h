// Reading a workspace's ingested data for training: its shape (what models it can feed) and
// its split files, each verified against the hash the index recorded for it.
#pragma once

#include <string>

#include "src/index/lineage_index.h"
#include "src/data/records.h"
#include "src/models/model_spec.h"
#include "src/workspace/workspace.h"

namespace lethe {

// Payload kind, vocabulary, image side, feature count and label count of the ingested data.
// ErrorKind::kUsage when nothing has been ingested.
DataShape workspace_data_shape(Workspace& ws);

// The slice row of the public or test split; ErrorKind::kNotFound when the split is empty.
SliceRow split_slice(Workspace& ws, const std::string& kind);

// Reads a slice file after checking its BLAKE2b hash against the index: a file that changed
// since it was recorded is ErrorKind::kIntegrity and is never trained on.
RecordBatch read_verified_slice(Workspace& ws, const SliceRow& slice);

}  // namespace lethe
