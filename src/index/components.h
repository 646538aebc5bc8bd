// The index's reads of trained components beyond lineage_index's (which inserts them, reads
// their rows and finds the live ones of a kind): whether one exists or was switched off, the
// lineage edges of the live ones, and who has seen a slice. Used by forget, the audit, the certificate and status.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "src/index/lineage_index.h"

namespace lethe {

// Whether a component of `kind` exists (at any status), and whether one was switched off.
bool has_component(Db& db, const std::string& kind);
bool has_deactivated_component(Db& db, const std::string& kind);

// The ids of the live components, and of those that have seen `slice_id` (at any hash); ascending.
std::vector<int64_t> live_component_ids(Db& db);
std::vector<int64_t> live_components_that_saw(Db& db, int64_t slice_id);

// A component's checkpoint file, and whether a live component has the same file (content-
// addressed: the same name is the same bytes). nullopt: no such component.
struct ComponentFile {
  std::string file;
  bool shared_with_live = false;
};
std::optional<ComponentFile> component_file(Db& db, int64_t component_id);

// A lineage edge of a live component: the slice it saw, at which hash, and the first version of
// the slice with that hash (nullopt: a hash the slice never had).
struct LiveEdge {
  ComponentRow component;  // id, kind, shard, prefix
  int64_t slice_id = 0;
  std::string slice_hash;
  std::optional<int64_t> version;
};
std::vector<LiveEdge> live_lineage_edges(Db& db);

// The hash of `slice_id` that the newest component of `kind` which saw it was trained on.
std::optional<std::string> newest_edge_hash(Db& db, int64_t slice_id, const std::string& kind);

}  // namespace lethe
