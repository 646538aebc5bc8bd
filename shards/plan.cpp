#include "shards/plan.h"

#include <algorithm>
#include <functional>
#include <queue>
#include <unordered_map>

#include "src/common/error.h"

namespace lethe {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t hash64(std::string_view bytes, uint64_t seed) {
  // FNV-1a, then a splitmix64 finaliser to spread low-entropy inputs such as "user-17".
  uint64_t h = 0xcbf29ce484222325ULL ^ splitmix64(seed);
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ULL;
  return splitmix64(h);
}

double unit_hash(std::string_view bytes, uint64_t seed) {
  return static_cast<double>(hash64(bytes, seed) >> 11) * 0x1.0p-53;
}

namespace {

// Always hands out the cell with the fewest records, lowest index first on ties: for a fresh
// plan this deals round-robin; for an append it fills the lightest cells first.
class LightestCell {
 public:
  explicit LightestCell(const std::vector<uint64_t>& sizes) {
    for (size_t c = 0; c < sizes.size(); ++c) heap_.push({sizes[c], static_cast<int32_t>(c)});
  }
  int32_t take(uint64_t weight) {
    auto [load, cell] = heap_.top();
    heap_.pop();
    heap_.push({load + weight, cell});
    return cell;
  }

 private:
  using Entry = std::pair<uint64_t, int32_t>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap_;
};

std::vector<uint32_t> train_indices(const RecordBatch& batch) {
  std::vector<uint32_t> idx;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch.splits[i] == Split::kTrain) idx.push_back(static_cast<uint32_t>(i));
  }
  return idx;
}

void plan_random(const RecordBatch& batch, const PlanOptions& opt, Plan& plan,
                 LightestCell& cells) {
  std::vector<uint32_t> order = train_indices(batch);
  // Fisher-Yates with a splitmix64 stream: reproducible everywhere, unlike std::shuffle.
  uint64_t state = opt.seed;
  for (size_t i = order.size(); i > 1; --i) {
    state = splitmix64(state);
    std::swap(order[i - 1], order[state % i]);
  }
  for (uint32_t r : order) plan.cell_of[r] = cells.take(1);
}

void plan_by_owner(const RecordBatch& batch, const PlanOptions& opt, const ExistingPlan& existing,
                   Plan& plan, LightestCell& cells, size_t* new_owners) {
  // Group train records by owner; owners are numbered in order of first appearance.
  std::unordered_map<std::string_view, uint32_t> group_of;
  std::vector<std::string_view> owners;
  std::vector<uint64_t> counts;
  std::vector<uint32_t> group(batch.size(), 0);
  for (uint32_t r : train_indices(batch)) {
    auto [it, inserted] = group_of.emplace(batch.owners.at(r), static_cast<uint32_t>(owners.size()));
    if (inserted) {
      owners.push_back(it->first);
      counts.push_back(0);
    }
    group[r] = it->second;
    ++counts[it->second];
  }
  std::vector<int32_t> cell_of_group(owners.size(), -1);
  for (const auto& [owner, cell] : existing.owners) {
    auto it = group_of.find(owner);
    if (it != group_of.end()) cell_of_group[it->second] = cell;
  }
  // Longest-processing-time bin packing: biggest owners first into the lightest cell. Ties are
  // broken by a seeded hash, then by name, so the order never depends on input order.
  std::vector<uint32_t> pending;
  for (uint32_t g = 0; g < owners.size(); ++g) {
    if (cell_of_group[g] < 0) pending.push_back(g);
  }
  std::vector<uint64_t> tie(owners.size());
  for (uint32_t g : pending) tie[g] = hash64(owners[g], opt.seed);
  std::sort(pending.begin(), pending.end(), [&](uint32_t a, uint32_t b) {
    if (counts[a] != counts[b]) return counts[a] > counts[b];
    if (tie[a] != tie[b]) return tie[a] < tie[b];
    return owners[a] < owners[b];
  });
  for (uint32_t g : pending) cell_of_group[g] = cells.take(counts[g]);
  *new_owners = pending.size();
  for (uint32_t r : train_indices(batch)) plan.cell_of[r] = cell_of_group[group[r]];
}

}  // namespace

Plan make_plan(const RecordBatch& batch, const PlanOptions& opt, const ExistingPlan& existing) {
  if (opt.shards < 1 || opt.slices < 1) {
    fail(ErrorKind::kUsage, "plan needs at least one shard and one slice (got {} x {})",
         opt.shards, opt.slices);
  }
  const size_t cells = static_cast<size_t>(opt.cells());
  const bool fresh = existing.cell_sizes.empty();
  if (!fresh && existing.cell_sizes.size() != cells) {
    fail(ErrorKind::kUsage, "the workspace's plan has {} cells but the configuration asks for {} x {}",
         existing.cell_sizes.size(), opt.shards, opt.slices);
  }
  Plan plan;
  plan.cell_of.assign(batch.size(), -1);
  plan.cell_sizes = fresh ? std::vector<uint64_t>(cells, 0) : existing.cell_sizes;
  const size_t train = train_indices(batch).size();
  if (fresh && train < cells) {
    fail(ErrorKind::kInput,
         "the plan has {} shards x {} slices = {} slices but only {} train records: there must "
         "be at least one record per slice",
         opt.shards, opt.slices, cells, train);
  }
  LightestCell lightest(plan.cell_sizes);
  if (opt.strategy == "random") {
    plan_random(batch, opt, plan, lightest);
  } else if (opt.strategy == "owner") {
    size_t new_owners = 0;
    plan_by_owner(batch, opt, existing, plan, lightest, &new_owners);
    if (fresh && new_owners < cells) {
      fail(ErrorKind::kInput,
           "the owner plan puts each owner in one slice, so it needs at least {} owners for {} "
           "shards x {} slices, but the train records have {}; use fewer slices or "
           "plan.strategy = \"random\"",
           cells, opt.shards, opt.slices, new_owners);
    }
  } else {
    fail(ErrorKind::kUsage, "unknown plan strategy '{}': expected owner or random", opt.strategy);
  }
  for (int32_t c : plan.cell_of) {
    if (c >= 0) ++plan.cell_sizes[static_cast<size_t>(c)];
  }
  return plan;
}

PlanSummary summarize(const std::vector<uint64_t>& cell_sizes) {
  PlanSummary s;
  if (cell_sizes.empty()) return s;
  s.min_cell = *std::min_element(cell_sizes.begin(), cell_sizes.end());
  s.max_cell = *std::max_element(cell_sizes.begin(), cell_sizes.end());
  for (uint64_t n : cell_sizes) s.records += n;
  s.mean_cell = static_cast<double>(s.records) / static_cast<double>(cell_sizes.size());
  s.imbalance = s.mean_cell > 0 ? static_cast<double>(s.max_cell) / s.mean_cell - 1.0 : 0.0;
  return s;
}

}  // namespace lethe
