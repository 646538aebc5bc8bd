#include "src/audit/certificate.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "src/index/components.h"
#include "src/index/deletion_requests.h"
#include "src/index/ledger.h"
#include "src/index/lineage_index.h"
#include "src/common/clock.h"
#include "src/common/error.h"
#include "src/privacy/dp_bound.h"
#include "src/privacy/dp_schedule.h"

namespace lethe {

namespace {

nlohmann::json entry_json(const LedgerEntry& e) {
  return {{"seq", e.seq}, {"at", e.at}, {"event", e.event}, {"payload", e.payload},
          {"prev_hash", e.prev_hash}, {"hash", e.hash}, {"signature", e.signature}};
}

}  // namespace

nlohmann::json make_certificate(Workspace& ws, const std::string& asked_id) {
  // The index and the ledger name the request by its keyed ID (find_request); so does the
  // certificate, which the workspace's key holder can tie to the plain ID (audit keyed-id).
  const auto stored = find_request(ws.db, ws.audit, asked_id);
  const auto row = stored ? request_row(ws.db, *stored) : std::nullopt;
  if (!row) fail(ErrorKind::kNotFound, "no forget request '{}' in workspace '{}'", asked_id, ws.root.string());
  const std::string& request_id = row->request_id;
  const RequestRow& q = *row;
  if (q.status != "purged") {
    fail(ErrorKind::kConflict, "request '{}' is acknowledged but its purge is not finished yet; run any writing "
         "command (e.g. 'lethe recover') to finish the purge, then ask again", asked_id);
  }
  const nlohmann::json request = {{"request_id", request_id}, {"created_at", q.created_at}, {"reason", q.reason},
                                  {"deleted", q.deleted}};

  // The request's entry, then the first purge of each slice it touched and the entry that
  // closed it: everything the certificate claims comes from these.
  const std::vector<LedgerEntry> ledger = read_ledger(ws.db);
  const LedgerEntry* asked = nullptr;
  nlohmann::json payload;
  for (const LedgerEntry& e : ledger) {
    if (e.event != "forget.request") continue;
    const nlohmann::json p = nlohmann::json::parse(e.payload);
    if (p.at("request_id") == request_id) {
      asked = &e;
      payload = p;
      break;
    }
  }
  if (!asked) fail(ErrorKind::kIntegrity, "request '{}' is in the index but not in the ledger", asked_id);
  std::set<int64_t> slices = payload.at("slices").get<std::set<int64_t>>();
  nlohmann::json entries = nlohmann::json::array({entry_json(*asked)}), purges = nlohmann::json::array();
  bool closed = slices.empty();
  for (const LedgerEntry& e : ledger) {
    if (e.seq <= asked->seq) continue;
    const nlohmann::json p = nlohmann::json::parse(e.payload);
    if (e.event == "purge.slice" && slices.erase(p.at("slice_id").get<int64_t>())) {
      entries.push_back(entry_json(e));
      const bool old_gone = !fs::exists(ws.root / p.at("old_file").get<std::string>());
      if (!old_gone) fail(ErrorKind::kIntegrity, "the purged slice file '{}' is still on disk", p.at("old_file").get<std::string>());
      purges.push_back({{"slice_id", p.at("slice_id")}, {"old_hash", p.at("old_hash")}, {"new_hash", p.at("new_hash")},
                        {"removed_records", p.at("removed_records")}, {"old_file_removed", old_gone},
                        {"ledger_seq", e.seq}});
    } else if (!closed && e.event == "forget.purged" && slices.empty()) {
      const auto done = p.at("requests").get<std::vector<std::string>>();
      if (std::find(done.begin(), done.end(), request_id) != done.end()) {
        entries.push_back(entry_json(e));
        closed = true;
      }
    }
  }
  if (!slices.empty() || !closed) fail(ErrorKind::kIntegrity, "the ledger does not record the purge of request '{}'", asked_id);

  // Each switched-off component's checkpoint must be gone, unless a live component shares the
  // same bytes (content-addressed files: the same name is the same content).
  nlohmann::json components = nlohmann::json::array();
  for (const auto& c : payload.at("deactivated")) {
    const auto file = component_file(ws.db, c.at("component_id").get<int64_t>());
    if (!file) fail(ErrorKind::kIntegrity, "component {} of request '{}' is not in the index", c.at("component_id").dump(), asked_id);
    const std::string& path = file->file;
    const bool shared = file->shared_with_live;
    if (!shared && !path.empty() && fs::exists(ws.root / path)) {
      fail(ErrorKind::kIntegrity, "the checkpoint '{}' of switched-off component {} is still on disk", path, c.at("component_id").dump());
    }
    nlohmann::json x = c;
    x["checkpoint_removed"] = !shared;
    components.push_back(x);
  }

  // DP2: differentially private components that saw the records and stayed live, with the bound
  // the forget recorded for them.
  const nlohmann::json bounded = payload.value("dp_bounded", nlohmann::json::array());
  std::string dp_statement;
  for (const auto& entry : bounded) {
    const DpBounded b = dp_bounded_from_json(entry);
    dp_statement += fmt::format(
        " Component {} (a DP2 base trained with differential privacy) saw them and stays live: it is {}.",
        b.component_id, describe_guarantee(b.unit, b.epsilon, b.delta, b.accountant, b.deleted_units));
  }

  const WorkspaceInfo info = workspace_info(ws);
  const LedgerEntry& head = ledger.back();
  nlohmann::json cert = {
      {"format", kCertificateFormat},
      {"workspace_id", info.workspace_id},
      {"public_key", public_key_hex(ws.audit)},
      {"issued_at", utc_timestamp()},
      {"request", request},
      {"records", payload.at("records")},
      {"owners", payload.at("owners")},
      {"deactivated_at", asked->at},
      {"components", components},
      {"dp_bounded", bounded},
      {"purges", purges},
      {"ledger", {{"entries", entries}, {"head", {{"seq", head.seq}, {"hash", head.hash}}}}},
      {"statement", fmt::format(
           "The {} record(s) named here by keyed hash were marked deleted and every component that had seen them "
           "({} in all) was switched off at {}, in the same transaction; the slices that held them were rewritten "
           "without them and the old files and checkpoints removed. {}",
           request.at("deleted").get<int64_t>(), components.size(), asked->at,
           bounded.empty() ? std::string("No component trained on them serves.")
                           : "No other component trained on them serves." + dp_statement)}};
  cert["signature"] = audit_sign(ws.audit, certificate_signed_bytes(cert));
  return cert;
}

}  // namespace lethe
