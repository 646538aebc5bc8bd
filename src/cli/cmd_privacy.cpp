// lethe privacy: the DP-SGD accountant as a command (src/privacy/rdp_accountant.h). `epsilon`
// gives the (epsilon, delta) a run spends; `noise` the smallest noise multiplier that keeps a
// run within a target. Neither needs a workspace.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "src/cli/context.h"
#include "src/common/error.h"
#include "src/privacy/rdp_accountant.h"

namespace lethe {

namespace {

struct RunFlags {
  double noise_multiplier = 0, sample_rate = 0, delta = 0, target_epsilon = 0;
  int64_t steps = 0;
};

void run_epsilon(Context& ctx, const RunFlags& f) {
  const PrivacySpent p = rdp_epsilon({{f.noise_multiplier, f.sample_rate, f.steps}}, f.delta);
  nlohmann::json j = {{"epsilon", p.epsilon}, {"delta", f.delta}, {"accountant", p.accountant}, {"order", p.order},
                      {"noise_multiplier", f.noise_multiplier}, {"sample_rate", f.sample_rate}, {"steps", f.steps}};
  std::string text = fmt::format("epsilon = {:.6g} at delta = {:g} (RDP accountant, best order {:g})", p.epsilon, f.delta, p.order);
  if (p.order_at_edge) {
    j["warning"] = "the best order is at the edge of the grid (1.1 .. 63): the bound may be loose";
    text += "\nwarning: the best order is at the edge of the grid (1.1 .. 63): the bound may be loose";
  }
  ctx.out.result(j, text);
}

void run_noise(Context& ctx, const RunFlags& f) {
  const double sigma = noise_for_epsilon(f.target_epsilon, f.delta, f.sample_rate, f.steps);
  const PrivacySpent p = rdp_epsilon({{sigma, f.sample_rate, f.steps}}, f.delta);
  ctx.out.result({{"noise_multiplier", sigma}, {"epsilon", p.epsilon}, {"target_epsilon", f.target_epsilon},
                  {"delta", f.delta}, {"accountant", p.accountant}, {"sample_rate", f.sample_rate}, {"steps", f.steps}},
                 fmt::format("noise multiplier = {:.6g} (spends epsilon = {:.6g} at delta = {:g}, RDP accountant)", sigma,
                             p.epsilon, f.delta));
}

void add_run_options(CLI::App* cmd, RunFlags& f) {
  cmd->add_option("--sample-rate", f.sample_rate, "Poisson sampling rate q of each step (expected batch / records)")
      ->required()->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--steps", f.steps, "Number of steps")->required()->check(CLI::NonNegativeNumber);
  cmd->add_option("--delta", f.delta, "delta of (epsilon, delta)-DP, in (0, 1); usually below 1 / records")->required();
}

}  // namespace

void add_privacy_commands(CLI::App& root, std::vector<Command>& commands) {
  auto* group = root.add_subcommand("privacy", "Differential privacy accounting for DP-SGD (RDP of the sampled Gaussian "
                                               "mechanism, Balle et al. 2020 conversion)");
  group->require_subcommand(1);
  auto flags = std::make_shared<RunFlags>();
  auto* eps = group->add_subcommand("epsilon", "The epsilon a DP-SGD run spends: --noise-multiplier S --sample-rate Q "
                                               "--steps N --delta D");
  eps->add_option("--noise-multiplier", flags->noise_multiplier, "Noise standard deviation / clipping norm")
      ->required()->check(CLI::NonNegativeNumber);
  add_run_options(eps, *flags);
  commands.push_back({eps, [flags](Context& ctx) { run_epsilon(ctx, *flags); }, false});
  auto* noise = group->add_subcommand("noise", "The smallest noise multiplier that keeps a DP-SGD run within a target: "
                                               "--target-epsilon E --sample-rate Q --steps N --delta D");
  noise->add_option("--target-epsilon", flags->target_epsilon, "The epsilon not to exceed")->required();
  add_run_options(noise, *flags);
  commands.push_back({noise, [flags](Context& ctx) { run_noise(ctx, *flags); }, false});
}

}  // namespace lethe
