#include "src/privacy/prv_accountant.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>

#include "src/common/error.h"

namespace lethe {

namespace {

// The privacy loss random variable of one step of the Poisson subsampled Gaussian mechanism:
// its CDF (Gopi et al. 2021, Proposition B4), 0 at and below log(1 - q).
struct SubsampledGaussianPrv {
  double q = 0, sigma = 0;

  double cdf(double t) const {
    if (q < 1 && t <= std::log1p(-q)) return 0.0;
    const double z = std::log((std::exp(t) + q - 1) / q);
    const double s2 = sigma * sigma;
    return 1.0 - q * std::erfc((2 * z * s2 - 1) / (2 * M_SQRT2 * sigma)) / 2 -
           (1 - q) * std::erfc((2 * z * s2 + 1) / (2 * M_SQRT2 * sigma)) / 2;
  }
};

// The PRV conditioned on [t_min, t_max).
struct TruncatedPrv {
  SubsampledGaussianPrv prv;
  double t_min = 0, t_max = 0, mass = 1, cdf_min = 0;

  TruncatedPrv(SubsampledGaussianPrv p, double lo, double hi) : prv(p), t_min(lo), t_max(hi) {
    cdf_min = prv.cdf(lo);
    mass = prv.cdf(hi) - cdf_min;
  }
  double cdf(double t) const {
    if (t < t_min) return 0.0;
    if (t >= t_max) return 1.0;
    return (prv.cdf(t) - cdf_min) / mass;
  }
};

// Adaptive Simpson integration of f over [a, b] to an absolute tolerance.
double simpson(const std::function<double(double)>& f, double a, double b, double fa, double fm, double fb,
               double whole, double tol, int depth) {
  const double m = (a + b) / 2, lm = (a + m) / 2, rm = (m + b) / 2;
  const double flm = f(lm), frm = f(rm);
  const double left = (m - a) / 6 * (fa + 4 * flm + fm), right = (b - m) / 6 * (fm + 4 * frm + fb);
  if (depth <= 0 || std::abs(left + right - whole) <= 15 * tol) return left + right + (left + right - whole) / 15;
  return simpson(f, a, m, fa, flm, fm, left, tol / 2, depth - 1) + simpson(f, m, b, fm, frm, fb, right, tol / 2, depth - 1);
}

double integrate(const std::function<double(double)>& f, double a, double b) {
  const double fa = f(a), fb = f(b), fm = f((a + b) / 2);
  return simpson(f, a, b, fa, fm, fb, (b - a) / 6 * (fa + 4 * fm + fb), 1e-13, 50);
}

// E[T] of the truncated PRV, by parts: t F(t) over the ends minus the integral of F, on pieces
// that resolve the mass near 0 (as Opacus splits them).
double truncated_mean(const TruncatedPrv& p) {
  std::vector<double> points = {p.t_min};
  for (int k = -1; k >= -5; --k) points.push_back(-std::pow(10.0, k));
  for (int k = -5; k <= -1; ++k) points.push_back(std::pow(10.0, k));
  points.push_back(p.t_max);
  double mean = 0;
  const auto F = [&](double t) { return p.cdf(t); };
  for (size_t i = 0; i + 1 < points.size(); ++i) {
    const double l = points[i], r = points[i + 1];
    if (r <= l) continue;
    mean += r * F(r) - l * F(l) - integrate(F, l, r);
  }
  return mean;
}

// A mesh over [t_min, t_max] with an even number of points, aligned to multiples of dt.
struct Mesh {
  double t_min = 0, t_max = 0;
  int64_t size = 0;
  double shift = 0;  // added to every point (mean preservation, composition)
  double dt() const { return (t_max - t_min) / static_cast<double>(size - 1); }
  double at(int64_t i) const { return t_min + shift + static_cast<double>(i) * dt(); }
};

Mesh aligned_mesh(double lo, double hi, double dt) {
  Mesh m;
  m.t_min = std::floor(lo / dt) * dt;
  m.t_max = std::ceil(hi / dt) * dt;
  m.size = static_cast<int64_t>(std::llround((m.t_max - m.t_min) / dt)) + 1;
  if (m.size % 2 == 1) {
    ++m.size;
    m.t_max += dt;
  }
  return m;
}

// Remark 5.6 of the paper: a domain [-L, L] outside which the composed PRV has less than
// delta_error / 4 of mass, from RDP.
double safe_domain(const std::vector<SgmRun>& runs, int64_t total, double eps_error, double delta_error) {
  double L = rdp_epsilon(runs, delta_error / 4).epsilon;
  for (const SgmRun& r : runs) {
    L = std::max(L, rdp_epsilon({{r.noise_multiplier, r.sample_rate, 1}}, delta_error / (8 * static_cast<double>(total))).epsilon);
  }
  return std::max(L, eps_error) + 3;
}

struct DiscretePrv {
  at::Tensor pmf;  // float64 [size]
  Mesh mesh;
};

DiscretePrv discretise(const TruncatedPrv& p, const Mesh& mesh) {
  DiscretePrv d;
  d.mesh = mesh;
  d.pmf = torch::empty({mesh.size}, torch::kFloat64);
  double* pmf = d.pmf.data_ptr<double>();
  const double dt = mesh.dt();
  double mean_d = 0;
  for (int64_t i = 0; i < mesh.size; ++i) {
    const double t = mesh.at(i);
    pmf[i] = p.cdf(t + dt / 2) - p.cdf(t - dt / 2);
    mean_d += t * pmf[i];
  }
  const double shift = truncated_mean(p) - mean_d;
  if (std::abs(shift) >= dt / 2) fail(ErrorKind::kInternal, "PRV accountant: the discrete mean is off by {} (mesh {})", shift, dt);
  d.mesh.shift += shift;
  return d;
}

// n-fold self-composition: the pmf's real FFT to the n-th power, rolled back so that the
// result sits on the same mesh (shifted by (n - 1) times the discretisation shift).
DiscretePrv compose_self(const DiscretePrv& d, int64_t n) {
  const at::Tensor spectrum = torch::fft::rfft(d.pmf);
  const at::Tensor powered = torch::pow(spectrum, static_cast<double>(n));
  at::Tensor composed = torch::fft::irfft(powered, d.pmf.size(0));
  int64_t roll = n - 1;
  if (n % 2 == 0) roll += d.pmf.size(0) / 2;
  DiscretePrv out;
  out.pmf = torch::roll(composed, roll);
  out.mesh = d.mesh;
  out.mesh.shift = d.mesh.shift * static_cast<double>(n);
  return out;
}

// Two PRVs on meshes of the same spacing and size: their convolution, centred ('same').
DiscretePrv compose_two(const DiscretePrv& a, const DiscretePrv& b) {
  const int64_t n = a.pmf.size(0), full = 2 * n - 1;
  const at::Tensor fa = torch::fft::rfft(a.pmf, full), fb = torch::fft::rfft(b.pmf, full);
  const at::Tensor conv = torch::fft::irfft(fa * fb, full);
  DiscretePrv out;
  out.pmf = conv.slice(0, (n - 1) / 2, (n - 1) / 2 + n).contiguous();
  out.mesh = a.mesh;
  out.mesh.shift = a.mesh.shift + b.mesh.shift;
  return out;
}

// The tail sums of the composed distribution from which delta(epsilon) follows at every mesh
// point: d1_i = P(T >= t_i), d2_i = E[e^{-T}; T >= t_i], ndelta_i = -delta(t_i).
struct DeltaCurve {
  std::vector<double> d1, d2, ndelta;
};

DeltaCurve delta_curve(const DiscretePrv& d) {
  const int64_t n = d.pmf.size(0);
  const double* p = d.pmf.data_ptr<double>();
  DeltaCurve c;
  c.d1.resize(static_cast<size_t>(n));
  c.d2.resize(static_cast<size_t>(n));
  c.ndelta.resize(static_cast<size_t>(n));
  double s1 = 0, s2 = 0;
  for (int64_t i = n - 1; i >= 0; --i) {
    const double t = d.mesh.at(i);
    s1 += p[i];
    s2 += p[i] * std::exp(-t);
    c.d1[static_cast<size_t>(i)] = s1;
    c.d2[static_cast<size_t>(i)] = s2;
    c.ndelta[static_cast<size_t>(i)] = std::exp(t) * s2 - s1;
  }
  return c;
}

// epsilon such that delta(epsilon) = target on the composed distribution.
double epsilon_at(const DeltaCurve& curve, double target) {
  const DeltaCurve& c = curve;
  // delta(t_i) = d1_i - e^{t_i} d2_i falls with i: the first i where it is <= target.
  const size_t i = static_cast<size_t>(std::lower_bound(c.ndelta.begin(), c.ndelta.end(), -target) - c.ndelta.begin());
  if (i == 0) fail(ErrorKind::kInternal, "PRV accountant: delta {} is reached at the domain's lower end", target);
  if (i >= c.ndelta.size()) fail(ErrorKind::kInternal, "PRV accountant: delta {} is not reached inside the domain", target);
  return std::log((c.d1[i] - target) / c.d2[i]);
}

}  // namespace

PrvEpsilon prv_epsilon_bounds(const std::vector<SgmRun>& runs, double delta, double eps_error, double delta_error) {
  if (!(delta > 0 && delta < 1)) fail(ErrorKind::kUsage, "delta {} is outside (0, 1)", delta);
  if (delta_error == 0) delta_error = delta / 1000;
  std::vector<SgmRun> active;
  int64_t total = 0;
  for (const SgmRun& r : runs) {
    if (r.steps < 0) fail(ErrorKind::kUsage, "steps {}: expected a number >= 0", r.steps);
    if (r.steps == 0) continue;
    if (!(r.sample_rate > 0 && r.sample_rate <= 1)) fail(ErrorKind::kUsage, "the PRV accountant needs a sample rate in (0, 1], got {}", r.sample_rate);
    if (!(r.noise_multiplier > 0)) fail(ErrorKind::kUsage, "the PRV accountant needs a positive noise multiplier, got {}", r.noise_multiplier);
    active.push_back(r);
    total += r.steps;
  }
  if (active.empty()) return {};
  const double L = safe_domain(active, total, eps_error, delta_error);
  const double mesh_size = eps_error / std::sqrt(static_cast<double>(total) * std::log(12 / delta_error) / 2);
  const Mesh mesh = aligned_mesh(-L, L, mesh_size);
  if (mesh.size > (int64_t{1} << 27)) {
    fail(ErrorKind::kInternal, "PRV accountant: the mesh would need {} points", mesh.size);
  }
  std::optional<DiscretePrv> composed;
  for (const SgmRun& r : active) {
    const TruncatedPrv t({r.sample_rate, r.noise_multiplier}, mesh.t_min, mesh.t_max);
    DiscretePrv d = compose_self(discretise(t, mesh), r.steps);
    composed = composed ? compose_two(*composed, d) : std::move(d);
  }
  const DeltaCurve curve = delta_curve(*composed);
  PrvEpsilon e;
  e.upper = epsilon_at(curve, delta - delta_error) + eps_error;
  e.lower = epsilon_at(curve, delta + delta_error) - eps_error;
  e.estimate = epsilon_at(curve, delta);
  return e;
}

PrivacySpent prv_epsilon(const std::vector<SgmRun>& runs, double delta) {
  PrivacySpent s;
  s.accountant = "prv";
  s.epsilon = std::max(0.0, prv_epsilon_bounds(runs, delta).upper);
  return s;
}

}  // namespace lethe
