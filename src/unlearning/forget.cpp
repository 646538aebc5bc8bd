#include "src/unlearning/forget.h"

#include <sodium.h>

#include <nlohmann/json.hpp>
#include <set>

#include "src/common/crash_point.h"
#include "src/common/error.h"
#include "src/common/hash.h"
#include "src/index/components.h"
#include "src/index/deletion_requests.h"

namespace lethe {

namespace {

std::string new_request_id() {
  unsigned char bytes[8];
  randombytes_buf(bytes, sizeof bytes);
  std::string hex;
  for (unsigned char b : bytes) hex += fmt::format("{:02x}", b);
  return "req-" + hex;
}

std::string join_limited(const std::vector<std::string>& v, size_t limit) {
  std::string s;
  for (size_t i = 0; i < v.size() && i < limit; ++i) s += (i ? ", " : "") + std::string("'") + v[i] + "'";
  if (v.size() > limit) s += fmt::format(" and {} more", v.size() - limit);
  return s;
}

}  // namespace

ForgetResult commit_forget(Workspace& ws, const ForgetRequest& req, double epsilon_budget) {
  if (req.ids.empty() && req.owners.empty()) fail(ErrorKind::kUsage, "nothing to forget: give --id, --ids, --owner or --owners");
  ForgetResult r;
  r.request_id = req.request_id.empty() ? new_request_id() : req.request_id;
  // Kept keyed, in the index and the ledger: people's words may name the person.
  const std::string stored_id = stored_request_text(ws.audit, r.request_id);
  const std::string stored_reason = stored_request_text(ws.audit, req.reason);

  Transaction txn(ws.db);
  if (find_request(ws.db, ws.audit, r.request_id)) {
    fail(ErrorKind::kConflict, "request '{}' was recorded before; give a new --request-id", r.request_id);
  }
  // Resolve every name first: a request with unknown names fails as a whole.
  std::vector<NamedRecord> targets;
  for (const std::string& id : req.ids) {
    const auto t = records_named(ws.db, ws.audit, NameField::kId, id);
    if (t.empty()) r.missing_ids.push_back(id);
    targets.insert(targets.end(), t.begin(), t.end());
  }
  for (const std::string& owner : req.owners) {
    const auto t = records_named(ws.db, ws.audit, NameField::kOwner, owner);
    if (t.empty()) r.missing_owners.push_back(owner);
    targets.insert(targets.end(), t.begin(), t.end());
  }
  if (!req.skip_missing && (!r.missing_ids.empty() || !r.missing_owners.empty())) {
    std::string what;
    if (!r.missing_ids.empty()) what += fmt::format("{} unknown ID{}: {}", r.missing_ids.size(), r.missing_ids.size() == 1 ? "" : "s", join_limited(r.missing_ids, 20));
    if (!r.missing_owners.empty()) what += fmt::format("{}{} unknown owner{}: {}", what.empty() ? "" : "; ", r.missing_owners.size(), r.missing_owners.size() == 1 ? "" : "s", join_limited(r.missing_owners, 20));
    fail(ErrorKind::kNotFound, "nothing was forgotten: {} (--skip-missing forgets the others)", what);
  }

  std::set<int64_t> rids, slices;
  for (const NamedRecord& t : targets) {
    if (!rids.insert(t.rid).second) continue;
    if (t.deleted) {
      ++r.already_deleted;
      continue;
    }
    slices.insert(t.slice_id);
  }
  // The records' side, in the index: marked deleted and sealed, their slices queued for purge,
  // the request and its records recorded.
  const RecordedDeletion done = record_deletion(ws.db, ws.audit, stored_id, stored_reason,
                                                std::vector<int64_t>(rids.begin(), rids.end()),
                                                std::vector<int64_t>(slices.begin(), slices.end()));
  r.deleted = done.deleted;
  // The components' side: every live component that saw an affected slice, at any hash.
  std::set<int64_t> off;
  for (int64_t s : slices) {
    for (int64_t id : live_components_that_saw(ws.db, s)) off.insert(id);
  }
  // Everything rests on the base: when the base saw a deleted record, nothing may serve.
  const auto base_off = [&] {
    for (const ComponentRow& b : live_components(ws.db, "base")) {
      if (off.count(b.component_id)) return true;
    }
    return false;
  }();
  if (base_off) {
    for (int64_t id : live_component_ids(ws.db)) off.insert(id);
  }
  // A differentially private component (dp2's DP base) that saw the slices may stay live: what it
  // reveals of the deleted units is bounded by its guarantee, counted now that the request's
  // records are recorded deleted.
  std::vector<ComponentPrivacy> dp_seen;
  if (!base_off) {
    for (auto it = off.begin(); it != off.end();) {
      if (auto p = component_privacy(ws.db, *it)) {
        dp_seen.push_back(*p);
        it = off.erase(it);
      } else {
        ++it;
      }
    }
  }
  // The ledger names the records by keyed hash only: provable to their owner, readable to no one.
  // The index keeps the same (seal_deleted_record).
  nlohmann::json records = done.keyed_ids, owners = nlohmann::json::array(), comps = nlohmann::json::array();
  nlohmann::json bounded = nlohmann::json::array();
  for (const ComponentPrivacy& p : dp_seen) {
    const DpBounded b = dp_bound(ws.db, p);
    if (req.retrain_dp_base || (epsilon_budget > 0 && b.group_epsilon > epsilon_budget)) {
      if (!req.retrain_dp_base) {
        fail(ErrorKind::kConflict,
             "nothing was forgotten: after this request {} {} will have been deleted from what the DP base "
             "(component {}) saw, so it would be only (epsilon = {:.4g}, delta = {:.3g})-DP with respect to them, "
             "beyond privacy.epsilon_budget = {:g}; run the forget with --retrain-dp-base to switch the DP base off "
             "too (the next retraining then trains a new DP base on the retained data, spending new privacy), "
             "or raise the budget",
             b.deleted_units, p.unit == "owner" ? "owners" : "records", p.component_id, b.group_epsilon,
             b.group_delta, epsilon_budget);
      }
      off.insert(p.component_id);
      continue;
    }
    r.dp_bounded.push_back(b);
    bounded.push_back(dp_bounded_json(b));
  }
  deactivate_for_request(ws.db, stored_id, std::vector<int64_t>(off.begin(), off.end()));
  for (const std::string& o : req.owners) owners.push_back(keyed_id(ws.audit, o));
  for (int64_t cid : off) {
    if (const auto c = component_by_id(ws.db, cid)) {
      comps.push_back({{"component_id", c->component_id}, {"kind", c->kind}, {"shard", c->shard},
                       {"prefix", c->prefix}, {"hash", c->hash}});
    }
  }
  record_event(ws, "forget.request", {{"request_id", stored_id}, {"reason", stored_reason}, {"deleted", r.deleted},
                                      {"records", records}, {"owners", owners},
                                      {"slices", std::vector<int64_t>(slices.begin(), slices.end())},
                                      {"deactivated", comps}, {"dp_bounded", bounded}});
  crash_point("forget.before_commit");
  txn.commit();
  crash_point("forget.after_commit");

  r.slices.assign(slices.begin(), slices.end());
  for (int64_t id : off) {
    if (auto c = component_by_id(ws.db, id)) r.deactivated.push_back(std::move(*c));
  }
  return r;
}

}  // namespace lethe
