#include "src/unlearning/forget.h"

#include <sodium.h>

#include <nlohmann/json.hpp>
#include <set>

#include "src/common/crash_point.h"
#include "src/common/error.h"
#include "src/common/hash.h"

namespace lethe {

namespace {

struct Target {
  int64_t rid = 0;
  int64_t slice_id = 0;
  bool deleted = false;
};

// The records named `value` in `column`, live (plain name) or deleted before (keyed name).
std::vector<Target> targets_where(Workspace& ws, const char* column, const std::string& value) {
  Stmt q = ws.db.prepare(std::string("SELECT rid, slice_id, status FROM records WHERE ") + column + " IN (?1, ?2)");
  const std::string keyed = keyed_name(ws.audit, value);
  q.bind(1, value).bind(2, keyed.empty() ? value : keyed);
  std::vector<Target> out;
  while (q.step()) out.push_back({q.int64(0), q.int64(1), q.int64(2) != 0});
  return out;
}

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
  std::vector<Target> targets;
  for (const std::string& id : req.ids) {
    const auto t = targets_where(ws, "id", id);
    if (t.empty()) r.missing_ids.push_back(id);
    targets.insert(targets.end(), t.begin(), t.end());
  }
  for (const std::string& owner : req.owners) {
    const auto t = targets_where(ws, "owner", owner);
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
  for (const Target& t : targets) {
    if (!rids.insert(t.rid).second) continue;
    if (t.deleted) {
      ++r.already_deleted;
      continue;
    }
    slices.insert(t.slice_id);
  }
  Stmt mark = ws.db.prepare("UPDATE records SET status = 1 WHERE rid = ? AND status = 0");
  Stmt link = ws.db.prepare("INSERT INTO request_records (request_id, rid) VALUES (?, ?)");
  for (const Target& t : targets) {
    mark.bind(1, t.rid);
    mark.step();
    if (ws.db.changes() == 0) {
      mark.reset();
      continue;
    }
    mark.reset();
    ++r.deleted;
  }
  // The live components that saw an affected slice, at any hash.
  std::set<int64_t> off;
  for (int64_t s : slices) {
    Stmt q = ws.db.prepare(
        "SELECT DISTINCT c.component_id FROM component_slices cs JOIN components c USING (component_id) "
        "WHERE cs.slice_id = ? AND c.status = 'live'");
    q.bind(1, s);
    while (q.step()) off.insert(q.int64(0));
    // The file's rows minus its deleted ones, counted on the small partial index of deleted
    // rows (as live_rows does), not by scanning every record of the table.
    Stmt live = ws.db.prepare(
        "UPDATE slices SET live = records - (SELECT COUNT(*) FROM records WHERE slice_id = ?1 AND status = 1 AND row >= 0) "
        "WHERE slice_id = ?1");
    live.bind(1, s);
    live.step();
    Stmt queue = ws.db.prepare("INSERT OR IGNORE INTO pending_purges (slice_id) VALUES (?)");
    queue.bind(1, s);
    queue.step();
  }
  // Everything rests on the base: when the base saw a deleted record, nothing may serve.
  const auto base_off = [&] {
    for (const ComponentRow& b : live_components(ws.db, "base")) {
      if (off.count(b.component_id)) return true;
    }
    return false;
  }();
  if (base_off) {
    Stmt all = ws.db.prepare("SELECT component_id FROM components WHERE status = 'live'");
    while (all.step()) off.insert(all.int64(0));
  }
  // A differentially private component (dp2's DP base) that saw the slices may stay live: what it
  // reveals of the deleted units is bounded by its guarantee. Decided below, once the deleted
  // records are sealed and the units deleted since it was trained can be counted.
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
  Stmt request = ws.db.prepare(
      "INSERT INTO requests (request_id, created_at, reason, deleted, status) "
      "VALUES (?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), ?, ?, ?)");
  request.bind(1, stored_id).bind(2, stored_reason).bind(3, r.deleted).bind(4, slices.empty() ? "purged" : "committed");
  request.step();
  for (int64_t rid : rids) {
    link.bind(1, stored_id).bind(2, rid);
    link.step();
    link.reset();
  }
  // The ledger names the records by keyed hash only: provable to their owner, readable to no one.
  // The index keeps the same (seal_deleted_record).
  nlohmann::json records = nlohmann::json::array(), owners = nlohmann::json::array(), comps = nlohmann::json::array();
  for (int64_t rid : rids) records.push_back(seal_deleted_record(ws.db, ws.audit, rid));
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
  Stmt comp = ws.db.prepare("INSERT INTO request_components (request_id, component_id) VALUES (?, ?)");
  for (int64_t id : off) {
    set_component_status(ws.db, id, "deactivated");
    comp.bind(1, stored_id).bind(2, id);
    comp.step();
    comp.reset();
  }
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
