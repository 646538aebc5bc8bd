#include "shards/sequences.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "shards/hungarian.h"
#include "src/common/error.h"

namespace lethe {

namespace {

// Right-rotation of `s` by k: the last k elements move to the front.
Sequence rotate_right(Sequence s, int k) {
  if (!s.empty()) std::rotate(s.rbegin(), s.rbegin() + (k % static_cast<int>(s.size())), s.rend());
  return s;
}

double factorial_capped(int n) {
  double f = 1;
  for (int i = 2; i <= n && f < 1e18; ++i) f *= i;
  return f;
}

std::vector<double> normalised(const std::vector<double>& p) {
  double sum = 0;
  for (double x : p) {
    if (!(x >= 0) || !std::isfinite(x)) {
      fail(ErrorKind::kUsage, "deletion probabilities must be finite and >= 0");
    }
    sum += x;
  }
  std::vector<double> out(p.size(), 1.0 / static_cast<double>(p.size()));
  if (sum > 0) {
    for (size_t i = 0; i < p.size(); ++i) out[i] = p[i] / sum;
  }
  return out;
}

// n * (1 - c)^t, with c clamped to [0, 1] against rounding.
double term(int n, double c, double deletions) {
  return n * std::pow(std::max(0.0, 1.0 - c), deletions);
}

}  // namespace

std::vector<Sequence> cyclic_sequences(int slices, int count) {
  if (slices < 1 || count < 1) fail(ErrorKind::kUsage, "need at least one slice and one sequence");
  if (static_cast<double>(count) > factorial_capped(slices)) {
    fail(ErrorKind::kUsage, "{} sequences requested, but {} slices have only {} distinct orders",
         count, slices, factorial_capped(slices));
  }
  Sequence identity(static_cast<size_t>(slices));
  for (int i = 0; i < slices; ++i) identity[static_cast<size_t>(i)] = i;
  std::vector<Sequence> out;
  std::set<Sequence> seen;
  auto add = [&](const Sequence& s) {
    if (static_cast<int>(out.size()) < count && seen.insert(s).second) out.push_back(s);
  };
  // Round 0: the rotations. Round f: each sequence so far keeps its first f slices and has
  // the rest rotated by 1..L-f-1. Every permutation is reached after L-1 rounds.
  for (int r = 0; r < slices; ++r) add(rotate_right(identity, r));
  for (int fixed = 1; fixed < slices - 1 && static_cast<int>(out.size()) < count; ++fixed) {
    const std::vector<Sequence> round = out;
    for (const Sequence& s : round) {
      for (int k = 1; k < slices - fixed; ++k) {
        Sequence t(s.begin(), s.begin() + fixed);
        const Sequence rest = rotate_right(Sequence(s.begin() + fixed, s.end()), k);
        t.insert(t.end(), rest.begin(), rest.end());
        add(t);
      }
    }
  }
  if (static_cast<int>(out.size()) < count) {
    fail(ErrorKind::kInternal, "cyclic selection produced {} of {} sequences", out.size(), count);
  }
  return out;
}

std::vector<Sequence> bms_sequences(const std::vector<double>& probabilities, int count,
                                    double deletions) {
  const int slices = static_cast<int>(probabilities.size());
  if (slices < 1 || count < 1 || count > slices) {
    fail(ErrorKind::kUsage, "bms selects between 1 and L sequences (L = {}), not {}", slices, count);
  }
  const std::vector<double> p = normalised(probabilities);
  std::vector<Sequence> seqs(static_cast<size_t>(count));
  std::vector<double> cumulative(static_cast<size_t>(count), 0.0);
  constexpr double kForbidden = 1e12;  // a slice the sequence already holds
  for (int n = 1; n <= slices; ++n) {
    // Maximum weight = minimum of the negated weights.
    auto build = [&](int copies) {
      std::vector<std::vector<double>> cost(static_cast<size_t>(count),
                                            std::vector<double>(static_cast<size_t>(slices * copies)));
      for (int b = 0; b < count; ++b) {
        for (int l = 0; l < slices; ++l) {
          const bool held = std::count(seqs[b].begin(), seqs[b].end(), l) > 0;
          const double w = held ? -kForbidden : term(n, cumulative[b] + p[l], deletions);
          for (int c = 0; c < copies; ++c) cost[b][static_cast<size_t>(c * slices + l)] = -w;
        }
      }
      return cost;
    };
    auto feasible = [&](const std::vector<std::vector<double>>& cost, const std::vector<int>& col) {
      for (int b = 0; b < count; ++b) {
        if (cost[b][static_cast<size_t>(col[b])] >= kForbidden) return false;
      }
      return true;
    };
    // Distinct slices across sequences at each position when possible; otherwise (few slices
    // left per sequence) each slice may serve several sequences at this position.
    auto cost = build(1);
    std::vector<int> col = min_cost_assignment(cost);
    if (!feasible(cost, col)) {
      cost = build(count);
      col = min_cost_assignment(cost);
    }
    for (int b = 0; b < count; ++b) {
      const int l = col[b] % slices;
      seqs[b].push_back(l);
      cumulative[b] += p[l];
    }
  }
  return seqs;
}

double sequence_score(const Sequence& sequence, const std::vector<double>& probabilities,
                      double deletions) {
  const std::vector<double> p = normalised(probabilities);
  double c = 0, score = 0;
  for (size_t n = 0; n < sequence.size(); ++n) {
    c += p[static_cast<size_t>(sequence[n])];
    score += term(static_cast<int>(n + 1), c, deletions);
  }
  return score;
}

}  // namespace lethe
