#include "tests/support/bare_index.h"

#include <vector>

#include "src/index/lineage_index.h"
#include "src/index/lineage_schema.h"

namespace lethe::test {

Db open_bare_index(const TempDir& dir) {
  Db db = Db::open(dir / "lineage.db", true);
  migrate(db, index_migrations());
  return db;
}

RecordBatch train_batch(const std::string& prefix, int n, int owners) {
  RecordBatch b;
  for (int i = 0; i < n; ++i) {
    b.ids.push(prefix + std::to_string(i));
    b.owners.push("owner-" + std::to_string(i % owners));
    b.payloads.push("x");
    b.labels.push_back(i % 2);
    b.splits.push_back(Split::kTrain);
  }
  return b;
}

int64_t load_train_slice(Db& db, const RecordBatch& b, int shard, int slice) {
  Transaction txn(db);
  intern_labels(db, {"cat", "dog"});
  SliceRow row;
  row.kind = "train";
  row.shard = shard;
  row.slice = slice;
  row.file = "data/train-" + std::to_string(shard) + "-" + std::to_string(slice) + ".h5";
  row.hash = "h" + std::to_string(shard * 10 + slice);
  row.records = row.live = b.size();
  const int64_t id = upsert_slice(db, row);
  std::vector<int64_t> slice_of(b.size(), id), row_of(b.size());
  for (size_t i = 0; i < b.size(); ++i) row_of[i] = static_cast<int64_t>(i);
  insert_records(db, b, slice_of, row_of);
  txn.commit();
  return id;
}

}  // namespace lethe::test
