// The workspace's SentencePiece model. It is trained on the public split only, stored
// content-addressed under data/, and recorded as a component of the lineage index (kind
// "tokenizer") with an edge to the public slice it was trained on. So forgetting a public
// record switches it off like the base (src/unlearning/forget.h), `audit verify` checks its
// lineage and file like any component's, and the purge trains its replacement: the old model
// must go (its pieces may spell out the deleted text), and it is the only key to the token IDs
// the slice files hold, so they are decoded and encoded again before it goes.
//
// meta 'tokenizer.file' / 'tokenizer.hash' name the model the slice files are encoded with;
// the component's status says whether it may still be used.
#pragma once

#include <cstdint>
#include <string>

#include "src/workspace/workspace.h"

namespace lethe {

// data.tokenizer is "sentencepiece": text payloads are token IDs of the workspace's model.
bool uses_sentencepiece(Workspace& ws);

// The serialized model the slices are encoded with, verified against its hash. ErrorKind::kIntegrity
// when the file is missing or changed; kConflict when a deletion switched it off and the purge
// has not trained its replacement yet (any writing command, e.g. 'lethe recover', finishes it).
std::string workspace_tokenizer(Workspace& ws);

// Records `file` (relative to the workspace, already written) as the live tokenizer, trained
// on the public slice `public_slice_id` at `public_hash` with `vocab_size` pieces requested,
// and points meta at it. Inside the caller's transaction; `extra` is merged into the ledger
// entry ('tokenizer.set').
void record_tokenizer(Workspace& ws, const std::string& file, int64_t public_slice_id, const std::string& public_hash,
                      int64_t vocab_size, const nlohmann::json& extra = nlohmann::json::object());

// The slices are encoded with a tokenizer that a deletion switched off.
bool tokenizer_retrain_pending(Workspace& ws);

// Decodes every slice with the switched-off model, trains a new model on the retained public
// records, encodes every slice with it and switches to the new files in one transaction (the
// old ones become unreferenced). The new model and files are those a fresh ingest of the
// retained records gives. The caller holds the write lock and has purged every slice.
// Returns the number of slices re-encoded.
size_t retrain_tokenizer(Workspace& ws);

// A workspace made before the tokenizer was a component: record it as one, with its edge to
// the public slice's first version (the first ingest trained it), switched off at once when
// that slice has lost records since. No-op otherwise. Caller holds the write lock.
void adopt_unrecorded_tokenizer(Workspace& ws);

}  // namespace lethe
