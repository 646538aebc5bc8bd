#include "src/audit/audit_verify.h"

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "src/index/components.h"
#include "src/index/ledger.h"
#include "src/index/lineage_index.h"
#include "src/index/component_privacy.h"
#include "src/index/purge_queue.h"
#include "src/index/record_sets.h"
#include "src/audit/replay.h"
#include "src/common/hash.h"
#include "src/data/slice_file.h"
#include "src/workspace/tokenizer_store.h"

namespace lethe {

namespace {

std::string component_label(const std::string& kind, int64_t id, int64_t shard, const std::string& prefix) {
  return fmt::format("{} component {} (shard {}, prefix '{}')", kind, id, shard, prefix);
}

// What the signed ledger says the index must hold: each component's hash and whether it is
// live, each slice's hash, and the keyed IDs every request deleted.
struct LedgerState {
  std::map<int64_t, std::pair<std::string, bool>> components;  // id -> (hash, live)
  std::map<int64_t, std::string> slices;                       // id -> hash
  std::map<std::string, std::string> deleted;                  // keyed ID -> request
  std::map<int64_t, nlohmann::json> privacy;                   // DP component id -> its guarantee
};

LedgerState replay_ledger(const std::vector<LedgerEntry>& entries) {
  LedgerState st;
  const auto switch_off = [&](const nlohmann::json& list) {
    for (const auto& c : list) st.components[c.is_object() ? c.at("component_id").get<int64_t>() : c.get<int64_t>()].second = false;
  };
  for (const LedgerEntry& e : entries) {
    const nlohmann::json p = nlohmann::json::parse(e.payload, nullptr, false);
    if (p.is_discarded()) continue;  // verify_ledger reports it (its hash no longer matches)
    try {
      if (e.event == "audit.keys_created") {
        for (const auto& c : p.value("components", nlohmann::json::array())) st.components[c.at("component_id")] = {c.at("hash"), true};
        for (const auto& x : p.value("slices", nlohmann::json::array())) st.slices[x.at("slice_id")] = x.at("hash");
        for (const auto& k : p.value("deleted", nlohmann::json::array())) st.deleted[k] = "(before the ledger)";
      } else if (e.event == "ingest") {
        for (const auto& x : p.at("slices")) st.slices[x.at("slice_id")] = x.at("hash");
      } else if (e.event == "base.set" || e.event == "train.node" || e.event == "tokenizer.set") {
        switch_off(p.at("replaced"));
        st.components[p.at("component_id")] = {p.at("hash"), true};
        if (p.contains("privacy")) st.privacy[p.at("component_id")] = p.at("privacy");
        // A new tokenizer re-encodes every slice (src/workspace/tokenizer_store.h).
        for (const auto& x : p.value("slices", nlohmann::json::array())) st.slices[x.at("slice_id")] = x.at("new_hash");
      } else if (e.event == "tokenizer.off") {
        switch_off(p.at("deactivated"));
      } else if (e.event == "train.plan") {
        switch_off(p.at("retired"));
      } else if (e.event == "forget.request") {
        switch_off(p.at("deactivated"));
        for (const auto& k : p.at("records")) st.deleted[k] = p.at("request_id");
      } else if (e.event == "purge.slice") {
        st.slices[p.at("slice_id")] = p.at("new_hash");
      }
    } catch (const nlohmann::json::exception&) {
      // A signed entry of an unexpected shape: its fields are checked where used below.
    }
  }
  return st;
}

void check_index_against_ledger(Workspace& ws, LedgerState st, AuditReport& r) {
  for (const ComponentRow& c : all_components(ws.db)) {
    const bool live = c.status == "live";
    const std::string where = fmt::format("{} component {}", c.kind, c.component_id);
    const auto it = st.components.find(c.component_id);
    if (it == st.components.end()) {
      if (live) r.violations.push_back({"ledger", where, "is live, but no ledger entry records it"});
      continue;
    }
    if (it->second.first != c.hash) {
      r.violations.push_back({"ledger", where, fmt::format("has hash {} in the index, {} in the ledger", c.hash, it->second.first)});
    }
    if (live && !it->second.second) r.violations.push_back({"ledger", where, "is live, but the ledger records it switched off"});
    if (!live && it->second.second) r.violations.push_back({"ledger", where, "was switched off without a ledger entry"});
    st.components.erase(it);
  }
  for (const auto& [id, c] : st.components) {
    r.violations.push_back({"ledger", fmt::format("component {}", id), "is in the ledger but not in the index"});
  }
  for (const SliceRow& s : list_slices(ws.db)) {
    const auto it = st.slices.find(s.slice_id);
    if (it == st.slices.end()) {
      r.violations.push_back({"ledger", s.file, "no ledger entry records this slice"});
    } else if (it->second != s.hash) {
      r.violations.push_back({"ledger", s.file, fmt::format("has hash {} in the index, {} in the ledger", s.hash, it->second)});
    }
  }
  // Every record a request deleted is still deleted, and every deleted record was deleted by one.
  for (const auto& [keyed, request] : st.deleted) {
    if (!holds_deleted(ws.db, keyed_name_of_hash(keyed))) {
      r.violations.push_back({"ledger", "request " + request, fmt::format("deleted record {}, which the index no longer holds as deleted", keyed)});
    }
  }
  for (const auto& [rid, id] : deleted_records(ws.db)) {
    if (!is_keyed_name(id) || !st.deleted.count(keyed_hash_of(AuditKeys{}, id))) {
      r.violations.push_back({"ledger", fmt::format("record {}", rid), "is deleted in the index, but no forget request in the ledger deleted it"});
    }
  }
}

void check_checkpoints(Workspace& ws, AuditReport& r) {
  std::set<std::string> live_files;
  std::vector<std::pair<std::string, std::string>> off;  // (file, name) of switched-off components
  for (const ComponentRow& c : all_components(ws.db)) {
    if (c.file.empty()) continue;
    const std::string name = component_label(c.kind, c.component_id, c.shard, c.prefix);
    if (c.status != "live") {
      off.push_back({c.file, name});
      continue;
    }
    live_files.insert(c.file);
    ++r.checkpoints;
    const fs::path path = ws.root / c.file;
    if (!fs::exists(path)) {
      r.violations.push_back({"checkpoints", c.file, name + ": the file is missing"});
    } else if (hash_file(path) != c.hash) {
      r.violations.push_back({"checkpoints", c.file, name + ": the file does not match its hash in the index"});
    }
  }
  for (const auto& [file, name] : off) {
    if (!live_files.count(file) && fs::exists(ws.root / file)) {
      r.violations.push_back({"leftovers", file, name + " is switched off, but its checkpoint file is still there"});
    }
  }
}

// The records a slice file holds, by their keyed IDs, that the ledger says were deleted: read
// from the file itself, not from the index's bookkeeping of rows.
int64_t deleted_in_file(const fs::path& path, const AuditKeys& keys, const LedgerState& st) {
  const RecordBatch batch = read_slice_file(path);
  int64_t n = 0;
  for (size_t i = 0; i < batch.size(); ++i) n += st.deleted.count(keyed_id(keys, batch.ids.at(i))) > 0;
  return n;
}

// With SentencePiece, the slices hold token IDs of the model meta names: it must be the live
// tokenizer component (checked with the other components' files and lineage). One that a
// deletion switched off still shapes every slice until the purge encodes them again.
void check_tokenizer(Workspace& ws, AuditReport& r) {
  if (!uses_sentencepiece(ws)) return;
  const std::string file = get_meta(ws.db, "tokenizer.file").value_or("");
  const std::vector<ComponentRow> live = live_components(ws.db, "tokenizer");
  if (live.empty()) {
    r.violations.push_back({"tokenizer", file, "the slices are encoded with a tokenizer that is switched off (it saw "
                                               "a deleted public record): finish the purge with 'lethe recover'"});
  } else if (live.back().file != file || live.size() > 1) {
    r.violations.push_back({"tokenizer", file, fmt::format("the slices are encoded with another tokenizer than the "
                                                           "live one ({})", live.back().file)});
  }
}

void check_slices(Workspace& ws, const LedgerState& st, AuditReport& r) {
  for (const SliceRow& s : list_slices(ws.db)) {
    ++r.slices;
    const fs::path path = ws.root / s.file;
    if (!fs::exists(path)) {
      r.violations.push_back({"slices", s.file, "the slice file is missing"});
      continue;
    }
    if (hash_file(path) != s.hash) {
      r.violations.push_back({"slices", s.file, "the slice file does not match its hash in the index"});
    }
    if (!ws.audit.id_secret.empty() && !st.deleted.empty()) {
      ++r.slices_read;
      const int64_t found = deleted_in_file(path, ws.audit, st);
      if (found > 0) {
        r.violations.push_back({"slices", s.file, fmt::format("its file holds {} record{} the ledger says {} deleted", found,
                                                              found == 1 ? "" : "s", found == 1 ? "was" : "were")});
      }
    }
    const int64_t held = unpurged_deleted_count(ws.db, s.slice_id);
    if (held > 0) {
      r.violations.push_back({"slices", s.file, fmt::format("still holds {} deleted record{}", held, held == 1 ? "" : "s")});
    }
  }
  const int64_t pending = queued_purge_count(ws.db);
  if (pending > 0) {
    r.violations.push_back({"slices", "pending_purges", fmt::format("{} slices wait for their purge", pending)});
  }
}

// Whether the index's privacy row of a component is the guarantee its train.node entry signed:
// a row added or changed afterwards would exempt a component from the lineage check.
bool privacy_matches_ledger(const ComponentPrivacy& p, const LedgerState& st) {
  const auto it = st.privacy.find(p.component_id);
  if (it == st.privacy.end()) return false;
  const nlohmann::json& j = it->second;
  return j.value("unit", "") == p.unit && j.value("epsilon", -1.0) == p.epsilon && j.value("delta", -1.0) == p.delta &&
         j.value("requests_seq", int64_t{-1}) == p.requests_seq && j.value("max_rid", int64_t{-1}) == p.max_rid;
}

void check_lineage(Workspace& ws, const LedgerState& st, AuditReport& r) {
  for (const LiveEdge& e : live_lineage_edges(ws.db)) {
    ++r.lineage_edges;
    const ComponentRow& c = e.component;
    const std::string name = component_label(c.kind, c.component_id, c.shard, c.prefix);
    if (!e.version) {
      r.violations.push_back({"lineage", name, fmt::format("was trained on a version of slice {} the index does not know", e.slice_id)});
      continue;
    }
    const int64_t saw = deleted_records_seen(ws.db, e.slice_id, *e.version);
    if (saw == 0) continue;
    const int64_t id = c.component_id;
    if (const auto p = component_privacy(ws.db, id)) {
      if (privacy_matches_ledger(*p, st)) {
        // DP2's DP base: allowed to have seen deleted records, within its signed guarantee.
        if (r.dp_bounded.empty() || r.dp_bounded.back().bound.component_id != id) r.dp_bounded.push_back({name, dp_bound(ws.db, *p)});
        continue;
      }
      r.violations.push_back({"lineage", name, "has a privacy guarantee in the index that its signed train.node "
                                               "entry does not state: it cannot excuse the deleted records it saw"});
    }
    r.violations.push_back({"lineage", name, fmt::format("is live but was trained on slice {} while it held {} deleted "
                                                         "record{}", e.slice_id, saw, saw == 1 ? "" : "s")});
  }
}

void check_replay(Workspace& ws, const VerifyOptions& options, AuditReport& r) {
  const ReplayCases cases = replay_cases(ws, options.config ? *options.config : ws.config);
  r.replayable = static_cast<int64_t>(cases.cases.size());
  for (const auto& [c, why] : cases.unreplayable) {
    r.violations.push_back({"replay", component_label(c.kind, c.component_id, c.shard, c.prefix),
                            "is live but cannot be trained again from its recorded inputs: " + why});
  }
  for (const auto& [c, why] : cases.other_numerics) {
    r.not_replayable_here.push_back({component_label(c.kind, c.component_id, c.shard, c.prefix), why});
  }
  for (const ReplayCase& c : draw_cases(cases.cases, options.replay, options.replay_seed)) {
    const auto t0 = std::chrono::steady_clock::now();
    const ReplayInputs in = replay_inputs(ws, cases, c);
    const std::string hash = blake2b_hex(serialize_node(replay_train(ws, in, options.progress)));
    const ComponentRow& x = c.component;
    r.replayed.push_back({x.component_id, x.kind, x.prefix, x.hash, hash, x.shard,
                          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()});
    if (hash != x.hash) {
      r.violations.push_back({"replay", component_label(x.kind, x.component_id, x.shard, x.prefix),
                              fmt::format("trained again from its recorded inputs it gives {}, but the stored checkpoint is {}: "
                                          "it was not trained (only) on what its lineage says", hash, x.hash)});
    }
  }
}

}  // namespace

AuditReport verify_workspace(Workspace& ws, const std::string& public_key, const VerifyOptions& options) {
  AuditReport r;
  for (const LedgerViolation& v : verify_ledger(ws.db, public_key)) {
    r.violations.push_back({"ledger", v.seq > 0 ? fmt::format("entry {}", v.seq) : "ledger", v.what});
  }
  const std::vector<LedgerEntry> entries = read_ledger(ws.db);
  r.ledger_entries = static_cast<int64_t>(entries.size());
  const LedgerState st = replay_ledger(entries);
  check_index_against_ledger(ws, st, r);
  check_checkpoints(ws, r);
  check_slices(ws, st, r);
  check_tokenizer(ws, r);
  check_lineage(ws, st, r);
  if (options.replay > 0) check_replay(ws, options, r);
  return r;
}

}  // namespace lethe
