// lethe forget: delete records (by ID or owner) with immediate effect, then purge their bytes.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "src/cli/context.h"
#include "src/common/error.h"
#include "src/data/source_util.h"
#include "src/privacy/dp_schedule.h"
#include "src/unlearning/forget.h"
#include "src/workspace/purge.h"

namespace lethe {

namespace {

struct ForgetFlags {
  std::vector<std::string> ids, owners;
  std::string ids_file, owners_file;
  std::string request_id, reason;
  bool skip_missing = false;
  bool retrain_dp_base = false;
};

// One name per line; blank lines are skipped. An empty list or a line that is not UTF-8 is
// ErrorKind::kInput naming the file (and line).
std::vector<std::string> read_names(const std::string& path, const char* what) {
  InputFile in(path);
  std::vector<std::string> out;
  size_t line_no = 0;
  for (std::string_view raw; in.read_line(raw);) {
    const std::string_view line = trim_ascii(raw);
    ++line_no;
    if (line.empty()) continue;
    if (!is_valid_utf8(line)) fail(ErrorKind::kInput, "{}:{}: not valid UTF-8", path, line_no);
    out.emplace_back(line);
  }
  if (out.empty()) fail(ErrorKind::kInput, "{}: no {} in the file (expected one per line)", path, what);
  return out;
}

void run_forget(Context& ctx, const ForgetFlags& f) {
  ForgetRequest req;
  req.ids = f.ids;
  req.owners = f.owners;
  if (!f.ids_file.empty()) {
    const auto more = read_names(f.ids_file, "record IDs");
    req.ids.insert(req.ids.end(), more.begin(), more.end());
  }
  if (!f.owners_file.empty()) {
    const auto more = read_names(f.owners_file, "owners");
    req.owners.insert(req.owners.end(), more.begin(), more.end());
  }
  req.request_id = f.request_id;
  req.reason = f.reason;
  req.skip_missing = f.skip_missing;
  req.retrain_dp_base = f.retrain_dp_base;

  // The lock file names its holder's command for others to read: not this one's arguments,
  // which name the records being deleted.
  auto w = open_workspace_for_write(ctx.options.workspace, "lethe forget");
  const ForgetResult r = commit_forget(w.ws, req, ctx.config.privacy.epsilon_budget);
  // Durable from here: the acknowledgement may be relied on even if the purge is interrupted.
  ctx.log->info("request {} committed: {} records deleted, {} components deactivated; purging", r.request_id,
                r.deleted, r.deactivated.size());
  const PurgeReport p = purge_pending(w.ws);

  nlohmann::json deactivated = nlohmann::json::array();
  for (const ComponentRow& c : r.deactivated) {
    deactivated.push_back({{"component_id", c.component_id}, {"kind", c.kind}, {"shard", c.shard}, {"prefix", c.prefix}});
  }
  nlohmann::json purged = nlohmann::json::array();
  for (const PurgedSlice& s : p.slices) {
    purged.push_back({{"slice_id", s.slice_id}, {"old_hash", s.old_hash}, {"new_hash", s.new_hash}, {"removed_records", s.removed_records}});
  }
  std::string human = r.deleted == 0
                          ? fmt::format("Request {}: nothing new to forget ({} already deleted)", r.request_id, r.already_deleted)
                          : fmt::format("Request {}: forgot {} records ({} already deleted); {} components deactivated; "
                                        "{} slice files rewritten, {} files removed",
                                        r.request_id, r.deleted, r.already_deleted, r.deactivated.size(), p.slices.size(),
                                        p.files_removed);
  if (!p.finished) {
    // Acknowledged and in force, but not yet erased everywhere: say so, loudly.
    ctx.log->warn("the purge of request {} is not finished: another process reading the index kept its write-ahead "
                  "log, which may still hold the deleted records' IDs and owners, from being truncated; the next "
                  "command that opens the workspace finishes it (e.g. 'lethe recover' once the reader is done), and "
                  "'lethe audit certificate' is refused until then", r.request_id);
    human += "\n  purge NOT finished: a reader held the index's write-ahead log; run 'lethe recover' once it is done";
  }
  const bool base_lost = std::any_of(r.deactivated.begin(), r.deactivated.end(),
                                     [](const ComponentRow& c) { return c.kind == "base"; });
  if (base_lost) {
    // Fail closed, loudly: the public split fed the base, so nothing built on it may serve.
    ctx.log->warn("a deleted record was in the public split the base model was trained on: the base and every "
                  "model built on it are switched off; nothing serves until 'lethe pretrain' and 'lethe train'");
    human += "\n  the base model saw a deleted (public) record: nothing serves until 'lethe pretrain' and 'lethe train'";
  }
  if (p.retokenized > 0) {
    human += fmt::format("\n  the SentencePiece tokenizer was trained on the deleted public record(s): a new one was "
                         "trained on the retained public records and {} slice files were encoded again", p.retokenized);
  }
  nlohmann::json bounded = nlohmann::json::array();
  for (const DpBounded& b : r.dp_bounded) {
    bounded.push_back(dp_bounded_json(b));
    human += fmt::format("\n  the DP base stays: {}",
                         describe_guarantee(b.unit, b.epsilon, b.delta, b.accountant, b.deleted_units));
    human += ctx.config.privacy.after_forget == "dp_base"
                 ? "\n  it serves alone until 'lethe retrain' fine-tunes it on the retained data"
                 : "\n  nothing serves until 'lethe retrain' (privacy.after_forget = \"nothing\")";
  }
  if (!r.missing_ids.empty() || !r.missing_owners.empty()) {
    human += fmt::format("\n  skipped {} unknown IDs and {} unknown owners", r.missing_ids.size(), r.missing_owners.size());
  }
  ctx.out.result({{"request_id", r.request_id},
                  {"deleted", r.deleted},
                  {"already_deleted", r.already_deleted},
                  {"missing_ids", r.missing_ids},
                  {"missing_owners", r.missing_owners},
                  {"deactivated", deactivated},
                  {"purged_slices", purged},
                  {"files_removed", p.files_removed},
                  {"retokenized_slices", p.retokenized},
                  {"purge_finished", p.finished},
                  {"base_deactivated", base_lost},
                  {"dp_bounded", bounded}},
                 human);
}

}  // namespace

void add_forget_command(CLI::App& root, std::vector<Command>& commands) {
  auto* cmd = root.add_subcommand(
      "forget",
      "Delete records with immediate effect: one transaction marks them deleted and switches "
      "off every trained component that saw them (S3T: from the stage where their slice "
      "entered); acknowledged once durable. Then their bytes are purged: slice files rewritten "
      "without them, deactivated checkpoints removed. An interrupted purge is finished by the "
      "next command that opens the workspace");
  auto f = std::make_shared<ForgetFlags>();
  cmd->add_option("--id", f->ids, "Record ID (repeatable)");
  cmd->add_option("--ids", f->ids_file, "File of record IDs, one per line");
  cmd->add_option("--owner", f->owners, "Owner: every record they own (repeatable)");
  cmd->add_option("--owners", f->owners_file, "File of owners, one per line");
  cmd->add_option("--request-id", f->request_id,
                  "Your reference for this request (default: generated); the workspace keeps it as a keyed hash "
                  "and finds it again by this name");
  cmd->add_option("--reason", f->reason,
                  "Why, for the record (e.g. 'GDPR Art. 17'); kept as a keyed hash, as it may name a person");
  cmd->add_flag("--skip-missing", f->skip_missing,
                "Forget the known IDs and owners and report the unknown ones, instead of refusing the request");
  cmd->add_flag("--retrain-dp-base", f->retrain_dp_base,
                "dp2: also switch off the DP base that saw the records, so that the next retraining trains a "
                "new one on the retained data (needed when the deletions would exceed privacy.epsilon_budget)");
  commands.push_back({cmd, [f](Context& ctx) { run_forget(ctx, *f); }});
}

}  // namespace lethe
