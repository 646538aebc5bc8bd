// The planner: balanced, owner-preserving, deterministic.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "shards/plan.h"
#include "src/common/error.h"

using namespace lethe;

namespace {

// n train records; record i belongs to owner "o<i % owners>" (or owner_of(i) when given).
RecordBatch make_batch(size_t n, size_t owners, size_t skew_every = 0) {
  RecordBatch b;
  for (size_t i = 0; i < n; ++i) {
    b.ids.push("r" + std::to_string(i));
    // With skew, every skew_every-th record goes to owner o0, making it large.
    const size_t o = skew_every && i % skew_every == 0 ? 0 : i % owners;
    b.owners.push("o" + std::to_string(o));
    b.payloads.push("x");
    b.labels.push_back(0);
    b.splits.push_back(Split::kTrain);
  }
  return b;
}

PlanOptions options(const char* strategy, int shards = 3, int slices = 4, uint64_t seed = 7) {
  PlanOptions o;
  o.shards = shards;
  o.slices = slices;
  o.strategy = strategy;
  o.seed = seed;
  return o;
}

}  // namespace

TEST_CASE("plan: random strategy deals records evenly", "[plan]") {
  const RecordBatch b = make_batch(1003, 50);
  const Plan p = make_plan(b, options("random"));
  const PlanSummary s = summarize(p.cell_sizes);
  CHECK(s.records == 1003);
  CHECK(s.max_cell - s.min_cell <= 1);
  for (int32_t c : p.cell_of) CHECK((c >= 0 && c < 12));
}

TEST_CASE("plan: owner strategy keeps every owner in one slice", "[plan]") {
  // Owner o0 holds ~270 records, about twice the next largest, yet less than a cell's mean
  // (5000 / 12 = 417), so packing can still even the cells out.
  const RecordBatch b = make_batch(5000, 300, 20);
  const Plan p = make_plan(b, options("owner"));
  std::map<std::string, std::set<int32_t>> cells;
  for (size_t i = 0; i < b.size(); ++i) cells[std::string(b.owners.at(i))].insert(p.cell_of[i]);
  for (const auto& [owner, set] : cells) CHECK(set.size() == 1);
  // Largest-first packing keeps the cells within a few percent of each other.
  CHECK(summarize(p.cell_sizes).imbalance < 0.05);
}

TEST_CASE("plan: an owner larger than a cell's mean gets a cell of its own", "[plan]") {
  const RecordBatch b = make_batch(5000, 300, 7);  // o0 holds ~730 records
  const Plan p = make_plan(b, options("owner"));
  const PlanSummary s = summarize(p.cell_sizes);
  CHECK(s.max_cell >= 700);
  // Every other cell is filled evenly around it: largest-first packing leaves the cells at
  // most one owner apart, and the other owners hold ~14 records each.
  std::vector<uint64_t> rest = p.cell_sizes;
  std::sort(rest.begin(), rest.end());
  rest.pop_back();
  CHECK(rest.back() - rest.front() <= 15);
}

TEST_CASE("plan: the same seed gives the same plan, another seed another", "[plan]") {
  const RecordBatch b = make_batch(2000, 100);
  for (const char* strategy : {"random", "owner"}) {
    const Plan a = make_plan(b, options(strategy, 3, 4, 1));
    const Plan again = make_plan(b, options(strategy, 3, 4, 1));
    const Plan other = make_plan(b, options(strategy, 3, 4, 2));
    CHECK(a.cell_of == again.cell_of);
    CHECK(a.cell_of != other.cell_of);
  }
}

TEST_CASE("plan: non-train records are not planned", "[plan]") {
  RecordBatch b = make_batch(200, 40);
  b.splits[3] = Split::kTest;
  b.splits[4] = Split::kPublic;
  const Plan p = make_plan(b, options("random"));
  CHECK(p.cell_of[3] == -1);
  CHECK(p.cell_of[4] == -1);
  CHECK(summarize(p.cell_sizes).records == 198);
}

TEST_CASE("plan: more slices than records is an input error", "[plan]") {
  const RecordBatch b = make_batch(11, 11);
  try {
    make_plan(b, options("random"));
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kInput);
    CHECK_THAT(e.what(), Catch::Contains("12 slices but only 11 train records"));
  }
}

TEST_CASE("plan: the owner plan needs at least one owner per slice", "[plan]") {
  const RecordBatch b = make_batch(500, 5);
  try {
    make_plan(b, options("owner"));
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kInput);
    CHECK_THAT(e.what(), Catch::Contains("at least 12 owners"));
  }
}

TEST_CASE("plan: an append keeps known owners in their slice and fills light slices", "[plan]") {
  const RecordBatch first = make_batch(600, 60);
  const Plan p1 = make_plan(first, options("owner"));
  ExistingPlan existing;
  existing.cell_sizes = p1.cell_sizes;
  std::map<std::string, int32_t> owner_cell;
  for (size_t i = 0; i < first.size(); ++i) owner_cell[std::string(first.owners.at(i))] = p1.cell_of[i];
  existing.owners.assign(owner_cell.begin(), owner_cell.end());

  RecordBatch more;
  for (int i = 0; i < 30; ++i) {
    more.ids.push("new" + std::to_string(i));
    more.owners.push(i < 10 ? "o5" : "fresh" + std::to_string(i));
    more.payloads.push("y");
    more.labels.push_back(0);
    more.splits.push_back(Split::kTrain);
  }
  const Plan p2 = make_plan(more, options("owner"), existing);
  for (int i = 0; i < 10; ++i) CHECK(p2.cell_of[static_cast<size_t>(i)] == owner_cell["o5"]);
  CHECK(summarize(p2.cell_sizes).records == 630);
}

TEST_CASE("plan: unit_hash is uniform enough and seed-dependent", "[plan]") {
  int below = 0;
  for (int i = 0; i < 10000; ++i) below += unit_hash("id-" + std::to_string(i), 3) < 0.1;
  CHECK(below > 850);
  CHECK(below < 1150);
  CHECK(unit_hash("a", 1) != unit_hash("a", 2));
}
