// The privacy record of a differentially private component (DP2Unlearning's DP base): its
// type, its JSON form as the node's checkpoint and train.node ledger entry carry it, its store
// in the index and its reads; and how many privacy units have been deleted from what such a
// component saw: the k of its group-privacy bound (k epsilon, k e^{(k-1) epsilon} delta).
// (PrivacySpent, src/privacy/rdp_accountant.h, is an accountant's answer for a set of runs;
// this is what the index keeps of one trained component.)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "src/common/sqlite_db.h"

namespace lethe {

struct ComponentPrivacy {
  int64_t component_id = 0;
  std::string unit;  // record | owner
  int64_t units = 0;
  double epsilon = 0, delta = 0;
  std::string accountant;
  double noise_multiplier = 0, sample_rate = 0;
  int64_t steps = 0;
  double max_grad_norm = 0;
  int64_t requests_seq = 0;  // the last request acknowledged before it was trained
  int64_t max_rid = 0;       // the newest record that existed then
};

// The record in the JSON a DP node's checkpoint carries in metrics["privacy"] (written by
// privacy_json, src/privacy/dp_schedule.h) and its train.node ledger entry repeats: unit, units,
// epsilon, delta, accountant, noise_multiplier, sample_rate, steps, max_grad_norm. The index's
// own fields (component_id, requests_seq, max_rid) are left for the committer to fill in.
ComponentPrivacy component_privacy_from_json(const nlohmann::json& j);

void record_component_privacy(Db& db, const ComponentPrivacy& p);
std::optional<ComponentPrivacy> component_privacy(Db& db, int64_t component_id);

// Units deleted since `p`'s component was trained, among the records that existed then:
// distinct records, or distinct owners (a deleted record's owner is its keyed name once sealed,
// so call it after sealing). Records ingested later and deleted count too when their rid is
// not above max_rid: never, since rids only grow.
int64_t deleted_units_since(Db& db, const ComponentPrivacy& p);

// Every DP component ever trained in the workspace, live or not, oldest first: each is a
// release that touched the data (its outputs may have been served), so privacy composes over
// all of them.
std::vector<ComponentPrivacy> all_component_privacy(Db& db);

}  // namespace lethe
