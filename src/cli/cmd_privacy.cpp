// lethe privacy: the DP-SGD accountants as a command (src/privacy/rdp_accountant.h,
// prv_accountant.h). `epsilon`
// gives the (epsilon, delta) a run spends; `noise` the smallest noise multiplier that keeps a
// run within a target. Neither needs a workspace.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "src/cli/context.h"
#include "src/common/error.h"
#include "src/privacy/dp_schedule.h"

namespace lethe {

namespace {

struct RunFlags {
  double noise_multiplier = 0, sample_rate = 0, delta = 0, target_epsilon = 0;
  int64_t steps = 0;
  std::string accountant = "rdp";
};

void run_epsilon(Context& ctx, const RunFlags& f) {
  const PrivacySpent p = spent_by(f.accountant, {{f.noise_multiplier, f.sample_rate, f.steps}}, f.delta);
  nlohmann::json j = {{"epsilon", p.epsilon}, {"delta", f.delta}, {"accountant", p.accountant},
                      {"noise_multiplier", f.noise_multiplier}, {"sample_rate", f.sample_rate}, {"steps", f.steps}};
  std::string text;
  if (p.accountant == "rdp") {
    j["order"] = p.order;
    text = fmt::format("epsilon = {:.6g} at delta = {:g} (RDP accountant, best order {:g})", p.epsilon, f.delta, p.order);
  } else {
    text = fmt::format("epsilon = {:.6g} at delta = {:g} (PRV accountant, upper bound)", p.epsilon, f.delta);
  }
  if (p.order_at_edge) {
    j["warning"] = "the best order is at the edge of the grid (1.1 .. 63): the bound may be loose";
    text += "\nwarning: the best order is at the edge of the grid (1.1 .. 63): the bound may be loose";
  }
  ctx.out.result(j, text);
}

void run_noise(Context& ctx, const RunFlags& f) {
  const double sigma = noise_for(f.accountant, f.target_epsilon, f.delta, f.sample_rate, f.steps);
  const PrivacySpent p = spent_by(f.accountant, {{sigma, f.sample_rate, f.steps}}, f.delta);
  ctx.out.result({{"noise_multiplier", sigma}, {"epsilon", p.epsilon}, {"target_epsilon", f.target_epsilon},
                  {"delta", f.delta}, {"accountant", p.accountant}, {"sample_rate", f.sample_rate}, {"steps", f.steps}},
                 fmt::format("noise multiplier = {:.6g} (spends epsilon = {:.6g} at delta = {:g}, {} accountant)", sigma,
                             p.epsilon, f.delta, p.accountant == "prv" ? "PRV" : "RDP"));
}

void add_run_options(CLI::App* cmd, RunFlags& f) {
  cmd->add_option("--sample-rate", f.sample_rate, "Poisson sampling rate q of each step (expected batch / records)")
      ->required()->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--steps", f.steps, "Number of steps")->required()->check(CLI::NonNegativeNumber);
  cmd->add_option("--delta", f.delta, "delta of (epsilon, delta)-DP, in (0, 1); usually below 1 / records")->required();
  cmd->add_option("--accountant", f.accountant,
                  "rdp (Renyi DP, Opacus's orders and conversion) or prv (PRV, Gopi et al. 2021: tighter, and "
                  "certifies small epsilon at tiny delta; reports its upper bound)")
      ->check(CLI::IsMember({"rdp", "prv"}))->capture_default_str();
}

}  // namespace

void add_privacy_commands(CLI::App& root, std::vector<Command>& commands) {
  auto* group = root.add_subcommand("privacy", "Differential privacy accounting for DP-SGD: RDP of the sampled Gaussian "
                                               "mechanism (Balle et al. 2020 conversion) or the PRV accountant");
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
