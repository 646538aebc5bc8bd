#include "shards/deletion_simulation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "shards/plan.h"
#include "src/common/error.h"

namespace lethe {

namespace {

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;
// A trial that has not failed after this many deletions has weights so small somewhere that
// the answer would take hours; better to say so than to hang.
constexpr int64_t kMaxDeletionsPerTrial = 100'000'000;
// Keeps m x L (and the per-sequence position tables) well inside memory and int.
constexpr int64_t kMaxCells = int64_t{1} << 24;

size_t at(int i) { return static_cast<size_t>(i); }

// SplitMix64 used counter-style: draw i of a stream is splitmix64(key + i * golden), so any draw
// can be recomputed from (key, i) alone, on any machine.
struct Stream {
  uint64_t key;
  uint64_t counter = 0;

  uint64_t next() { return splitmix64(key + (counter++) * kGolden); }
  // Uniform in [0, 1): the top 53 bits.
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
};

// Trial t's stream: its key depends on (seed, t) only, not on which trials ran before.
Stream trial_stream(uint64_t seed, int trial) {
  return Stream{splitmix64(splitmix64(seed) + static_cast<uint64_t>(trial) * kGolden)};
}

void validate(const SimulationOptions& o) {
  if (o.mode != "s3t" && o.mode != "sisa") fail(ErrorKind::kUsage, "mode must be s3t or sisa, got '{}'", o.mode);
  if (o.shards < 1) fail(ErrorKind::kUsage, "shards must be >= 1, got {}", o.shards);
  if (o.slices < 1) fail(ErrorKind::kUsage, "slices must be >= 1, got {}", o.slices);
  if (static_cast<int64_t>(o.shards) * o.slices > kMaxCells) {
    fail(ErrorKind::kUsage, "shards x slices must be at most {}, got {} x {}", kMaxCells, o.shards, o.slices);
  }
  if (o.trials < 1) fail(ErrorKind::kUsage, "trials must be >= 1, got {}", o.trials);
  if (o.deletions < 0) fail(ErrorKind::kUsage, "deletions must be >= 0, got {}", o.deletions);
  if (o.mode == "sisa") return;  // sequences and selection play no part
  if (o.sequences < 1) fail(ErrorKind::kUsage, "sequences must be >= 1, got {}", o.sequences);
  if (o.selection != "cyclic" && o.selection != "bms") {
    fail(ErrorKind::kUsage, "selection must be cyclic or bms, got '{}'", o.selection);
  }
  if (o.selection == "bms") {
    if (o.sequences > o.slices) {
      fail(ErrorKind::kUsage, "sequences must be at most slices ({}) for bms selection, got {}", o.slices,
           o.sequences);
    }
    if (!std::isfinite(o.expected_deletions) || o.expected_deletions < 0) {
      fail(ErrorKind::kUsage, "expected_deletions must be finite and >= 0, got {}", o.expected_deletions);
    }
  }
}

// The m x L weights flattened to cells (shard * L + slice); all ones when none are given.
std::vector<double> cell_weights(const SimulationOptions& o, const std::vector<std::vector<double>>& p) {
  const size_t cells = at(o.shards) * at(o.slices);
  if (p.empty()) return std::vector<double>(cells, 1.0);
  if (p.size() != at(o.shards)) {
    fail(ErrorKind::kUsage, "probabilities must have one row per shard ({}), got {}", o.shards, p.size());
  }
  std::vector<double> w;
  w.reserve(cells);
  double sum = 0;
  for (size_t k = 0; k < p.size(); ++k) {
    if (p[k].size() != at(o.slices)) {
      fail(ErrorKind::kUsage, "probabilities row {} must have one weight per slice ({}), got {}", k, o.slices,
           p[k].size());
    }
    for (size_t l = 0; l < p[k].size(); ++l) {
      const double x = p[k][l];
      if (!std::isfinite(x) || x < 0) {
        fail(ErrorKind::kUsage, "probabilities[{}][{}] must be finite and >= 0, got {}", k, l, x);
      }
      sum += x;
      w.push_back(x);
    }
  }
  if (!(sum > 0) || !std::isfinite(sum)) fail(ErrorKind::kUsage, "probabilities must have a positive, finite sum");
  return w;
}

bool all_equal(const std::vector<double>& w) {
  return std::all_of(w.begin(), w.end(), [&](double x) { return x == w.front(); });
}

std::vector<std::vector<Sequence>> select_sequences(const SimulationOptions& o, const std::vector<double>& w) {
  std::vector<std::vector<Sequence>> out;
  if (o.mode == "sisa") return out;
  out.reserve(at(o.shards));
  if (o.selection == "cyclic") {
    const std::vector<Sequence> cyclic = cyclic_sequences(o.slices, o.sequences);
    out.assign(at(o.shards), cyclic);
    return out;
  }
  for (int k = 0; k < o.shards; ++k) {
    const auto row = w.begin() + static_cast<std::ptrdiff_t>(at(k) * at(o.slices));
    out.push_back(bms_sequences(std::vector<double>(row, row + o.slices), o.sequences, o.expected_deletions));
  }
  return out;
}

// Welford's running mean and variance: stable, and one pass in trial order.
struct Moments {
  int64_t n = 0;
  double mean = 0, m2 = 0;

  void add(double x) {
    ++n;
    const double d = x - mean;
    mean += d / static_cast<double>(n);
    m2 += d * (x - mean);
  }
};

}  // namespace

double harmonic(int n) {
  if (n < 0) fail(ErrorKind::kUsage, "harmonic number of a negative count ({})", n);
  double h = 0;
  for (int i = n; i >= 1; --i) h += 1.0 / i;  // smallest terms first: less rounding
  return h;
}

double closed_form_deletions_to_failure(int shards, int slices, int sequences, const std::string& mode) {
  if (shards < 1 || slices < 1 || sequences < 1) {
    fail(ErrorKind::kUsage, "shards, slices and sequences must be >= 1, got {}, {}, {}", shards, slices, sequences);
  }
  const double m = shards;
  if (mode == "sisa") return m * harmonic(shards);
  if (mode != "s3t") fail(ErrorKind::kUsage, "mode must be s3t or sisa, got '{}'", mode);
  const int64_t coupons = static_cast<int64_t>(shards) * std::min(sequences, slices);
  if (coupons > std::numeric_limits<int>::max()) {
    fail(ErrorKind::kUsage, "shards x sequences too large ({})", coupons);
  }
  return m * slices * harmonic(static_cast<int>(coupons));
}

std::vector<std::vector<double>> zipf_probabilities(int shards, int slices, double exponent, uint64_t seed) {
  if (shards < 1 || slices < 1) {
    fail(ErrorKind::kUsage, "shards and slices must be >= 1, got {} and {}", shards, slices);
  }
  if (static_cast<int64_t>(shards) * slices > kMaxCells) {
    fail(ErrorKind::kUsage, "shards x slices must be at most {}, got {} x {}", kMaxCells, shards, slices);
  }
  if (!std::isfinite(exponent) || exponent < 0) {
    fail(ErrorKind::kUsage, "zipf exponent must be finite and >= 0, got {}", exponent);
  }
  const size_t cells = at(shards) * at(slices);
  // order[r] is the cell of rank r + 1: Fisher-Yates on a splitmix64 stream, unlike
  // std::shuffle reproducible on any standard library.
  std::vector<size_t> order(cells);
  for (size_t c = 0; c < cells; ++c) order[c] = c;
  Stream stream{splitmix64(seed ^ 0x7a697066ULL)};  // "zipf": not the trials' streams
  for (size_t i = cells; i > 1; --i) std::swap(order[i - 1], order[stream.next() % i]);
  std::vector<double> w(cells);
  double sum = 0;
  for (size_t r = 0; r < cells; ++r) {
    w[order[r]] = std::pow(static_cast<double>(r + 1), -exponent);
    sum += w[order[r]];
  }
  std::vector<std::vector<double>> out(at(shards), std::vector<double>(at(slices)));
  for (size_t c = 0; c < cells; ++c) out[c / at(slices)][c % at(slices)] = w[c] / sum;
  return out;
}

SimulationResult simulate_deletions(const SimulationOptions& options,
                                    const std::vector<std::vector<double>>& probabilities) {
  validate(options);
  const std::vector<double> weights = cell_weights(options, probabilities);
  SimulationResult result;
  result.sequences = select_sequences(options, weights);

  const bool sisa = options.mode == "sisa";
  const int m = options.shards, L = options.slices;
  // Sisa is one sequence per shard whose every slice sits at position 0: any hit kills it.
  const int B = sisa ? 1 : static_cast<int>(result.sequences.front().size());
  const size_t per_shard = at(B) * at(L);
  // pos[(k * B + b) * L + l]: the position of slice l in sequence b of shard k.
  std::vector<int> pos(at(m) * per_shard, 0);
  if (!sisa) {
    for (int k = 0; k < m; ++k) {
      for (int b = 0; b < B; ++b) {
        const Sequence& s = result.sequences[at(k)][at(b)];
        for (int n = 0; n < L; ++n) pos[at(k) * per_shard + at(b) * at(L) + at(s[at(n)])] = n;
      }
    }
  }

  // A shard can die only if every cell whose hit it needs has weight: each sequence's first
  // slice (s3t), or any of its slices (sisa). One immortal shard and the system never fails.
  bool can_fail = true;
  size_t distinct_firsts = 0;
  for (int k = 0; k < m; ++k) {
    const size_t row = at(k) * at(L);
    if (sisa) {
      can_fail &= std::any_of(weights.begin() + static_cast<std::ptrdiff_t>(row),
                              weights.begin() + static_cast<std::ptrdiff_t>(row + at(L)),
                              [](double x) { return x > 0; });
      continue;
    }
    std::set<int> firsts;
    for (const Sequence& s : result.sequences[at(k)]) {
      firsts.insert(s.front());
      can_fail &= weights[row + at(s.front())] > 0;
    }
    distinct_firsts += firsts.size();
  }

  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (!all_equal(weights)) {
    result.closed_form = nan;
  } else if (sisa) {
    result.closed_form = closed_form_deletions_to_failure(m, L, 1, "sisa");
  } else {
    result.closed_form = static_cast<double>(m) * L * harmonic(static_cast<int>(distinct_firsts));
  }

  // Inverse CDF over the raw cumulative weights (scaling every weight by 2 changes nothing).
  std::vector<double> cumulative(weights.size());
  double total = 0;
  size_t last_positive = 0;
  for (size_t c = 0; c < weights.size(); ++c) {
    total += weights[c];
    cumulative[c] = total;
    if (weights[c] > 0) last_positive = c;
  }

  // Per-trial state: the live prefix of every sequence and of every shard; only the hit
  // shard's entries change on a deletion.
  std::vector<int> prefix(at(m) * at(B));
  std::vector<int> shard_prefix(at(m));
  const size_t curve = at(options.deletions) + 1;
  std::vector<int64_t> prefix_sum(curve, 0), shards_sum(curve, 0);
  Moments failure;

  for (int t = 0; t < options.trials; ++t) {
    Stream stream = trial_stream(options.seed, t);
    std::fill(prefix.begin(), prefix.end(), L);
    std::fill(shard_prefix.begin(), shard_prefix.end(), L);
    int live = m;
    int64_t live_prefix = static_cast<int64_t>(m) * L;
    prefix_sum[0] += live_prefix;
    shards_sum[0] += live;
    int64_t k = 0;
    // Once every shard is dead, prefixes stay 0: the rest of the curve adds nothing.
    while (live > 0 && (can_fail || k < options.deletions)) {
      const double x = stream.unit() * total;
      size_t c = static_cast<size_t>(std::upper_bound(cumulative.begin(), cumulative.end(), x) - cumulative.begin());
      c = std::min(c, last_positive);  // x rounded up to the total
      const size_t shard = c / at(L), slice = c % at(L);
      ++k;
      if (shard_prefix[shard] > 0) {
        int best = 0;
        for (size_t b = 0; b < at(B); ++b) {
          int& p = prefix[shard * at(B) + b];
          p = std::min(p, pos[shard * per_shard + b * at(L) + slice]);
          best = std::max(best, p);
        }
        live_prefix -= shard_prefix[shard] - best;
        shard_prefix[shard] = best;
        if (best == 0) --live;
      }
      if (k <= options.deletions) {
        prefix_sum[static_cast<size_t>(k)] += live_prefix;
        shards_sum[static_cast<size_t>(k)] += live;
      }
      if (k > kMaxDeletionsPerTrial) {
        fail(ErrorKind::kUsage,
             "probabilities: a trial ran past {} deletions without every shard failing; some cells "
             "that must be hit have tiny weights",
             kMaxDeletionsPerTrial);
      }
    }
    if (can_fail) failure.add(static_cast<double>(k));
  }

  const double trials = options.trials;
  if (can_fail) {
    result.mean_deletions_to_failure = failure.mean;
    result.stddev_deletions_to_failure = failure.n > 1 ? std::sqrt(failure.m2 / (trials - 1)) : 0.0;
    result.stderr_deletions_to_failure = result.stddev_deletions_to_failure / std::sqrt(trials);
  } else {
    result.mean_deletions_to_failure = std::numeric_limits<double>::infinity();
    result.stddev_deletions_to_failure = result.stderr_deletions_to_failure = nan;
  }
  result.mean_live_prefix.resize(curve);
  result.live_shards.resize(curve);
  for (size_t i = 0; i < curve; ++i) {
    result.mean_live_prefix[i] = static_cast<double>(prefix_sum[i]) / (trials * m);
    result.live_shards[i] = static_cast<double>(shards_sum[i]) / trials;
  }
  return result;
}

}  // namespace lethe
