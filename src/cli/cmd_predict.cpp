// lethe predict: the serving ensemble's answers to JSONL requests, one JSONL answer per
// request, in order. Like eval it runs alone or under mpirun, and serves only live nodes.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>
#include <iterator>
#include <optional>

#include "src/cli/context.h"
#include "src/common/error.h"
#include "src/common/fs.h"
#include "src/serving/ensemble.h"
#include "src/serving/predict_answers.h"
#include "src/serving/predict_input.h"
#include "src/trainers/workspace_data.h"

namespace lethe {

namespace {

struct PredictFlags {
  std::string input = "-";
  std::optional<fs::path> output;
  std::optional<std::string> mode;
  bool per_shard = false;
  bool vote = false;
};

std::string read_input(const std::string& input) {
  if (input != "-") return read_file(input);
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

void run_predict(Context& ctx, const PredictFlags& f) {
  Workspace ws = open_workspace(ctx.options.workspace);
  const std::string mode = f.mode.value_or(ctx.config.train.mode);
  const Ensemble e = load_ensemble(ws, ctx.config, mode);
  // Under mpirun only rank 0 has stdin: it reads the requests and shares them.
  std::string text;
  if (ctx.comm.is_root()) text = read_input(f.input);
  text = broadcast(ctx.comm, text);
  const PredictRequests req = parse_predict_requests(ws, text, f.input == "-" ? "<stdin>" : f.input);
  std::vector<uint32_t> rows(req.batch.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<uint32_t>(i);
  const EnsembleOutputs o = run_ensemble(ctx.comm, e, req.batch, rows, f.vote ? Combine::kVote : Combine::kMean, false);
  if (!ctx.comm.is_root()) return;

  const std::vector<std::string> labels = label_names(ws.db);
  std::string out;
  for (int64_t i = 0; i < static_cast<int64_t>(rows.size()); ++i) {
    out += prediction_answer(req.ids[static_cast<size_t>(i)], o, e, labels, i, f.per_shard).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  if (f.output) {
    write_file_atomic(*f.output, out);
  } else {
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  ctx.log->info("answered {} requests with the {} ensemble of {} shards", rows.size(), mode, e.members.size());
}

}  // namespace

void add_predict_command(CLI::App& root, std::vector<Command>& commands) {
  auto* cmd = root.add_subcommand(
      "predict",
      "Answer JSONL requests with the serving ensemble: one line per request in, one JSON line "
      "per answer out ({\"id\", \"label\", \"label_index\", \"probability\"}, and with "
      "--per-shard each live shard's label, probability and logits). Requests carry the "
      "workspace's payload: {\"id\":..., \"text\": \"...\"}, {\"image\": [pixels 0..255]} or "
      "{\"features\": [numbers]}");
  auto f = std::make_shared<PredictFlags>();
  cmd->add_option("-i,--input", f->input, "JSONL requests ('-' = stdin)")->capture_default_str();
  cmd->add_option("-o,--output", f->output, "Write the answers to this file (atomically) instead of stdout");
  cmd->add_option("--mode", f->mode, "Which trained model serves: s3t, sisa or full (default: train.mode)");
  cmd->add_flag("--per-shard", f->per_shard, "Add each live shard's own answer");
  cmd->add_flag("--vote", f->vote, "Combine the shards by majority vote instead of mean logits");
  commands.push_back({cmd, [f](Context& ctx) { run_predict(ctx, *f); }, true, true});
}

}  // namespace lethe
