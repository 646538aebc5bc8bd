#include "src/ingest/ingest.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "src/index/lineage_index.h"
#include "src/index/workspace_plan.h"
#include "src/common/crash_point.h"
#include "src/common/error.h"
#include "src/common/hash.h"
#include "src/data/slice_file.h"
#include "src/data/sources.h"
#include "src/data/tokenizer.h"
#include "src/workspace/tokenizer_store.h"
#include "src/workspace/layout.h"

namespace lethe {

namespace {

// Salts keep the public and test selections independent of each other and of the plan.
constexpr uint64_t kPublicSalt = 0x7075626c6963ULL;  // "public"
constexpr uint64_t kTestSalt = 0x74657374ULL;        // "test"
constexpr uint64_t kCategorySalt = 0x636174ULL;      // "cat"
constexpr size_t kListLimit = 10;                   // how many offending IDs an error lists

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string join_quoted(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", '" : "'") + items[i] + "'";
  return out;
}

RecordBatch take_first(const RecordBatch& batch, size_t n) {
  RecordBatch out = RecordBatch::like(batch);
  for (size_t i = 0; i < n && i < batch.size(); ++i) out.append_from(batch, i);
  return out;
}

// At most `n` records of each label: those whose IDs hash lowest under `seed`, so the choice
// depends neither on file order nor on which other categories were read. Order is kept.
RecordBatch take_per_label(const RecordBatch& batch, size_t n, uint64_t seed) {
  std::map<int32_t, std::vector<std::pair<uint64_t, size_t>>> by_label;
  for (size_t i = 0; i < batch.size(); ++i) {
    by_label[batch.labels[i]].emplace_back(hash64(batch.ids.at(i), seed ^ kCategorySalt), i);
  }
  std::vector<size_t> kept;
  for (auto& [label, rows] : by_label) {
    std::sort(rows.begin(), rows.end());
    for (size_t k = 0; k < rows.size() && k < n; ++k) kept.push_back(rows[k].second);
  }
  std::sort(kept.begin(), kept.end());
  RecordBatch out = RecordBatch::like(batch);
  for (size_t i : kept) out.append_from(batch, i);
  return out;
}

// Duplicate IDs within the batch, found by sorting 64-bit hashes (compact at 10M records) and
// confirming equal hashes by comparing the IDs themselves.
void check_unique_ids(const RecordBatch& batch, const std::string& source) {
  std::vector<std::pair<uint64_t, uint32_t>> keyed(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    keyed[i] = {hash64(batch.ids.at(i), 0), static_cast<uint32_t>(i)};
  }
  std::sort(keyed.begin(), keyed.end());
  std::set<std::string> dups;
  size_t total = 0;
  for (size_t i = 1; i < keyed.size(); ++i) {
    if (keyed[i].first != keyed[i - 1].first) continue;
    const auto a = batch.ids.at(keyed[i - 1].second);
    if (a != batch.ids.at(keyed[i].second)) continue;  // a hash collision, not a duplicate
    ++total;
    if (dups.size() < kListLimit) dups.emplace(a);
  }
  if (total > 0) {
    fail(ErrorKind::kInput, "{}: duplicate record IDs ({} repeated): {}{}", source, total,
         join_quoted({dups.begin(), dups.end()}), total > dups.size() ? ", ..." : "");
  }
}

// "k:" and 64 hex digits is how the index names deleted records (keyed_name): a live record
// named so could be mistaken for one.
void check_no_keyed_names(const RecordBatch& batch, const std::string& source) {
  for (size_t i = 0; i < batch.size(); ++i) {
    for (const auto& [what, column] : {std::pair{"ID", &batch.ids}, std::pair{"owner", &batch.owners}}) {
      if (is_keyed_name(column->at(i))) {
        fail(ErrorKind::kInput, "{}: record {} has {} '{}': names of the form k:<64 hex digits> are reserved for "
             "deleted records' keyed hashes", source, i + 1, what, column->at(i));
      }
    }
  }
}

std::string shape_json(const std::vector<int64_t>& shape) { return nlohmann::json(shape).dump(); }

// The tokenizer that applies to `batch`: only text has one.
std::string tokenizer_kind(const DataConfig& data, const RecordBatch& batch) {
  return batch.payload_kind == PayloadKind::kText ? data.tokenizer : "none";
}

// An append must describe its data and plan exactly as the first ingest did.
void check_append_compatible(Db& db, const Config& config, const RecordBatch& batch) {
  struct Fact {
    const char* key;
    std::optional<std::string> have;  // in the workspace
    std::string want;                 // now
  };
  const std::optional<WorkspacePlan> plan = find_plan(db);
  const auto planned = [&](auto field) {
    return plan ? std::optional<std::string>(field(*plan)) : std::nullopt;
  };
  const Fact facts[] = {
      {"plan.shards", planned([](const WorkspacePlan& p) { return std::to_string(p.shards); }),
       std::to_string(config.plan.shards)},
      {"plan.slices", planned([](const WorkspacePlan& p) { return std::to_string(p.slices); }),
       std::to_string(config.plan.slices)},
      {"plan.strategy", planned([](const WorkspacePlan& p) { return p.strategy; }), config.plan.strategy},
      {"plan.seed", planned([](const WorkspacePlan& p) { return std::to_string(p.seed); }),
       std::to_string(config.plan.seed)},
      {"data.payload_kind", get_meta(db, "data.payload_kind"), payload_kind_name(batch.payload_kind)},
      {"data.payload_type", get_meta(db, "data.payload_type"), payload_type_name(batch.payload_type)},
      {"data.payload_shape", get_meta(db, "data.payload_shape"), shape_json(batch.payload_shape)},
      {"data.tokenizer", get_meta(db, "data.tokenizer"), tokenizer_kind(config.data, batch)},
  };
  const bool sentencepiece = tokenizer_kind(config.data, batch) == "sentencepiece";
  for (const auto& [key, have, want] : facts) {
    // With SentencePiece the stored element type comes from the stored model, which an append
    // reuses; the raw batch is still bytes at this point.
    if (sentencepiece && std::string(key) == "data.payload_type") continue;
    if (have && *have != want) {
      fail(ErrorKind::kUsage,
           "--append must keep the workspace's data and plan rules: {} is {} in the workspace "
           "but {} now",
           key, *have, want);
    }
  }
}

// Tokenizes text with SentencePiece when configured. The first ingest trains the model on the
// public records and stores it content-addressed under data/ (returned, to be recorded as a
// component in the ingest's transaction); an append reuses the stored one and returns "".
std::string apply_tokenizer(Workspace& ws, const DataConfig& data, RecordBatch& batch) {
  if (tokenizer_kind(data, batch) != "sentencepiece") return "";
  if (get_meta(ws.db, "tokenizer.file")) {
    encode_sentencepiece(batch, workspace_tokenizer(ws));
    return "";
  }
  std::vector<uint32_t> public_rows;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch.splits[i] == Split::kPublic) public_rows.push_back(static_cast<uint32_t>(i));
  }
  const std::string model = train_sentencepiece(batch, public_rows, static_cast<int>(data.vocab_size));
  const fs::path path = data_dir(ws.root) / ("tokenizer-" + blake2b_hex(model).substr(0, 16) + ".model");
  write_file_atomic(path, model);
  encode_sentencepiece(batch, model);
  return fs::relative(path, ws.root).string();
}

}  // namespace

PlanOptions plan_options(const PlanConfig& plan) {
  PlanOptions o;
  o.shards = static_cast<int>(plan.shards);
  o.slices = static_cast<int>(plan.slices);
  o.strategy = plan.strategy;
  o.seed = static_cast<uint64_t>(plan.seed);
  return o;
}

LoadedSource load_source(const DataConfig& data) {
  LoadedSource out;
  SourceData src;
  if (data.source == "fashion-mnist") {
    FashionMnistOptions o;
    if (!data.path.empty()) o.dir = data.path;
    o.num_owners = data.num_owners;
    o.owner_skew = data.owner_skew;
    o.seed = static_cast<uint64_t>(data.seed);
    o.limit = data.limit;
    src = read_fashion_mnist(o);
    out.description = "fashion-mnist (" + o.dir.string() + ")";
  } else if (data.source == "fortunes") {
    FortunesOptions o;
    if (!data.path.empty()) o.dir = data.path;
    o.categories = data.categories;
    src = read_fortunes(o);
    out.description = "fortunes (" + o.dir.string() + ")";
  } else if (data.source == "wordnet") {
    WordnetOptions o;
    if (!data.path.empty()) o.dir = data.path;
    o.categories = data.categories;
    src = read_wordnet(o);
    out.description = "wordnet (" + o.dir.string() + ")";
  } else if (data.source == "jsonl" || data.source == "csv") {
    if (data.path.empty()) {
      fail(ErrorKind::kUsage, "data.source = \"{}\" needs an input file: set data.path or pass "
           "--{} FILE", data.source, data.source);
    }
    TabularOptions o;
    o.id_field = data.id_field;
    o.owner_field = data.owner_field;
    o.text_field = data.text_field;
    o.label_field = data.label_field;
    o.features_field = data.features_field;
    o.feature_columns = data.feature_columns;
    o.timestamp_field = data.timestamp_field;
    o.payload = data.payload;
    o.labels = data.labels;
    src = data.source == "jsonl" ? read_jsonl(data.path, o) : read_csv(data.path, o);
    out.description = data.path;
  } else {
    fail(ErrorKind::kUsage, "unknown data.source '{}'", data.source);
  }
  if (data.category_limit > 0) {
    src.records = take_per_label(src.records, static_cast<size_t>(data.category_limit),
                                 static_cast<uint64_t>(data.seed));
  }
  out.records = std::move(src.records);
  out.label_names = std::move(src.label_names);
  if (data.source != "fashion-mnist" && data.limit > 0 &&
      out.records.size() > static_cast<size_t>(data.limit)) {
    out.records = take_first(out.records, static_cast<size_t>(data.limit));
  }
  return out;
}

void assign_splits(RecordBatch& batch, const DataConfig& data) {
  const std::set<std::string, std::less<>> listed(data.public_owners.begin(),
                                                  data.public_owners.end());
  const bool source_has_test =
      std::find(batch.splits.begin(), batch.splits.end(), Split::kTest) != batch.splits.end();
  const uint64_t seed = static_cast<uint64_t>(data.seed);
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch.splits[i] != Split::kTrain) continue;
    const auto owner = batch.owners.at(i);
    if (listed.count(owner) || unit_hash(owner, seed ^ kPublicSalt) < data.public_fraction) {
      batch.splits[i] = Split::kPublic;
    } else if (!source_has_test && unit_hash(batch.ids.at(i), seed ^ kTestSalt) < data.test_fraction) {
      batch.splits[i] = Split::kTest;
    }
  }
}

IngestReport ingest(Workspace& ws, const Config& config, LoadedSource source,
                    const IngestOptions& options, spdlog::logger& log) {
  using Clock = std::chrono::steady_clock;
  IngestReport report;
  report.source = source.description;
  RecordBatch& batch = source.records;
  const PlanOptions plan_opt = plan_options(config.plan);
  const int cells = plan_opt.cells();

  // 1. Is this a first ingest, or an allowed append?
  const std::vector<SliceRow> existing_slices = list_slices(ws.db);
  if (!existing_slices.empty() && !options.append) {
    uint64_t n = 0;
    for (const auto& s : existing_slices) n += s.records;
    fail(ErrorKind::kConflict,
         "workspace '{}' already holds {} records; use --append to add records under the same "
         "plan, or --force on init for a new workspace",
         ws.root.string(), n);
  }
  if (batch.size() == 0) fail(ErrorKind::kInput, "{}: no records to ingest", source.description);
  check_unique_ids(batch, source.description);
  check_no_keyed_names(batch, source.description);
  if (!existing_slices.empty()) {
    check_append_compatible(ws.db, config, batch);
    const auto clash = existing_ids(ws.db, batch.ids, kListLimit, ws.audit);
    if (!clash.empty()) {
      fail(ErrorKind::kInput, "{}: record IDs already in the workspace (live, or deleted by a forget request): {}",
           source.description, join_quoted(clash));
    }
  }

  // Slice files store the index's label values, so that a label value means the same in
  // every file even when an append's source lists its labels in another order.
  const std::vector<int32_t> label_of = label_values(ws.db, source.label_names);
  for (int32_t& label : batch.labels) label = label_of[static_cast<size_t>(label)];

  // 2. Splits, tokens and plan.
  auto t = Clock::now();
  assign_splits(batch, config.data);
  std::string tokenizer_file;
  try {
    tokenizer_file = apply_tokenizer(ws, config.data, batch);
  } catch (...) {
    remove_unreferenced_files(ws);
    throw;
  }
  ExistingPlan existing;
  std::map<std::tuple<std::string, int, int>, SliceRow> old_slice;
  for (const SliceRow& s : existing_slices) old_slice[{s.kind, s.shard, s.slice}] = s;
  if (!existing_slices.empty()) {
    existing.cell_sizes.assign(static_cast<size_t>(cells), 0);
    for (const SliceRow& s : existing_slices) {
      if (s.kind == "train") existing.cell_sizes[static_cast<size_t>(s.shard * plan_opt.slices + s.slice)] = s.records;
    }
    if (plan_opt.strategy == "owner") existing.owners = owner_cells(ws.db, plan_opt.slices);
  }
  const Plan plan = make_plan(batch, plan_opt, existing);
  report.plan_s = seconds_since(t);
  report.cell_sizes = plan.cell_sizes;
  report.plan = summarize(plan.cell_sizes);

  // 3. Group records by destination file: train cells 0..cells-1, then public, then test.
  const int groups = cells + 2;
  std::vector<int> group_of(batch.size());
  std::vector<std::vector<uint32_t>> members(static_cast<size_t>(groups));
  for (size_t i = 0; i < batch.size(); ++i) {
    const int g = batch.splits[i] == Split::kTrain    ? plan.cell_of[i]
                  : batch.splits[i] == Split::kPublic ? cells
                                                      : cells + 1;
    group_of[i] = g;
    members[static_cast<size_t>(g)].push_back(static_cast<uint32_t>(i));
  }
  report.records = batch.size();
  report.public_records = members[static_cast<size_t>(cells)].size();
  report.test = members[static_cast<size_t>(cells + 1)].size();
  report.train = report.records - report.public_records - report.test;

  // 4. Write one file per destination that gains records (an append rewrites the old file
  // plus the new rows into a new content-addressed file).
  t = Clock::now();
  std::vector<int64_t> row_of(batch.size(), 0);
  std::vector<SliceRow> rows;
  std::vector<std::vector<uint32_t>*> row_members;
  Progress progress("write slices", batch.size(), options.progress);
  try {
    for (int g = 0; g < groups; ++g) {
      auto& idx = members[static_cast<size_t>(g)];
      if (idx.empty()) continue;
      SliceRow row;
      row.kind = g < cells ? "train" : g == cells ? "public" : "test";
      row.shard = g < cells ? g / plan_opt.slices : -1;
      row.slice = g < cells ? g % plan_opt.slices : -1;
      RecordBatch out = RecordBatch::like(batch);
      uint64_t live_before = 0;
      int64_t first_row = 0;  // the number of the file's first row; row numbers outlive purges
      if (auto it = old_slice.find({row.kind, row.shard, row.slice}); it != old_slice.end()) {
        const fs::path old_path = ws.root / it->second.file;
        if (hash_file(old_path) != it->second.hash) {
          fail(ErrorKind::kIntegrity, "slice file '{}' does not match its hash in the index",
               old_path.string());
        }
        out = read_slice_file(old_path);
        live_before = it->second.live;
        first_row = next_row_number(ws.db, it->second.slice_id) - static_cast<int64_t>(out.size());
      }
      for (uint32_t i : idx) {
        row_of[i] = first_row + static_cast<int64_t>(out.size());
        out.append_from(batch, i);
      }
      const WrittenSlice written = write_slice_file(
          data_dir(ws.root), slice_stem(row.kind, row.shard, row.slice), out,
          SliceMeta{row.kind, row.shard, row.slice});
      row.file = fs::relative(written.path, ws.root).string();
      row.hash = written.hash;
      row.bytes = written.bytes;
      row.records = out.size();
      row.live = live_before + idx.size();
      rows.push_back(row);
      row_members.push_back(&idx);
      report.slices.push_back({row.kind, row.shard, row.slice, idx.size(), row.file, row.hash});
      progress.advance(idx.size());
      crash_point("ingest.mid_files");
    }
    progress.finish();
    report.write_s = seconds_since(t);

    // 5. One transaction makes the whole ingest visible at once.
    t = Clock::now();
    // A bulk load touches index pages all over the B-trees; with SQLite's default 2 MiB page
    // cache they spill to the WAL again and again. 256 MiB keeps 10 million records in reach
    // while staying well inside the memory budget.
    ws.db.exec("PRAGMA cache_size=-262144;");
    Transaction txn(ws.db);
    if (intern_labels(ws.db, source.label_names) != label_of) {
      fail(ErrorKind::kInternal, "label values changed during the ingest");
    }
    std::vector<int64_t> slice_id_of(batch.size(), 0);
    nlohmann::json written = nlohmann::json::array();
    int64_t public_slice_id = -1;
    for (size_t k = 0; k < rows.size(); ++k) {
      const int64_t id = upsert_slice(ws.db, rows[k]);
      if (rows[k].kind == "public") public_slice_id = id;
      for (uint32_t i : *row_members[k]) slice_id_of[i] = id;
      written.push_back({{"slice_id", id}, {"kind", rows[k].kind}, {"shard", rows[k].shard}, {"slice", rows[k].slice},
                         {"hash", rows[k].hash}, {"records", rows[k].records}});
    }
    insert_records(ws.db, batch, slice_id_of, row_of);
    record_event(ws, "ingest", {{"source", source.description}, {"records", batch.size()}, {"slices", written}});
    write_plan(ws.db, {plan_opt.shards, plan_opt.slices, plan_opt.strategy, plan_opt.seed});
    set_meta(ws.db, "data.payload_kind", payload_kind_name(batch.payload_kind));
    set_meta(ws.db, "data.payload_type", payload_type_name(batch.payload_type));
    set_meta(ws.db, "data.payload_shape", shape_json(batch.payload_shape));
    set_meta(ws.db, "data.tokenizer", tokenizer_kind(config.data, batch));
    if (!tokenizer_file.empty()) {
      // A component with its lineage: forgetting a public record switches it off.
      const auto pub = std::find_if(rows.begin(), rows.end(), [](const SliceRow& r) { return r.kind == "public"; });
      if (pub == rows.end()) fail(ErrorKind::kInternal, "a tokenizer was trained without a public slice");
      record_tokenizer(ws, tokenizer_file, public_slice_id, pub->hash, config.data.vocab_size);
    }
    crash_point("ingest.before_commit");
    txn.commit();
    crash_point("ingest.after_commit");
    report.index_s = seconds_since(t);
  } catch (...) {
    // The transaction rolled back; the files this ingest wrote are now unreferenced.
    remove_unreferenced_files(ws);
    throw;
  }
  const size_t superseded = remove_unreferenced_files(ws);
  if (superseded > 0) log.debug("removed {} superseded slice files", superseded);
  report.labels = label_names(ws.db);
  return report;
}

}  // namespace lethe
