// Finding mentions: an owner-level forget removes the records the owner owns, and only those.
// Other people's records that quote them (a reply holding their address) stay, as they should
// unless someone decides otherwise; `lethe find --text` lists them so that a request can be
// extended after review. The search string is itself personal data: nothing here logs,
// stores or echoes it.
#pragma once

#include <string>
#include <vector>

#include "src/workspace/workspace.h"

namespace lethe {

struct Mention {
  std::string id;
  std::string owner;
  std::string split;  // train | public | test
  int shard = -1;
  int slice = -1;
};

// The live records, in every split, whose text payload contains `needle` byte for byte (case
// sensitive). With the SentencePiece tokenizer the texts are decoded first, so they are
// SentencePiece's normalized form (NFKC, runs of spaces collapsed). ErrorKind::kUsage for an
// empty needle or a workspace whose payloads are not text; kIntegrity for a slice file that
// does not match its hash.
std::vector<Mention> records_mentioning(Workspace& ws, const std::string& needle);

}  // namespace lethe
