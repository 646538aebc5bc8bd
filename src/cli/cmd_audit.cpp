// lethe audit: the evidence a regulator can check. `pubkey` prints the workspace's ledger
// public key; `verify` checks the ledger, checkpoints, slices and lineage (and replays nodes)
// and names every violation (src/audit/audit_verify.h); `certificate` and `check-certificate`
// issue and check a forget request's certificate offline (src/audit/certificate.h);
// `keyed-id` gives the keyed hash that names an ID in them.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sodium.h>

#include <algorithm>
#include <limits>
#include <optional>

#include "src/index/lineage_index.h"
#include "src/index/ledger.h"
#include "src/audit/audit_verify.h"
#include "src/audit/certificate.h"
#include "src/cli/context.h"
#include "src/common/error.h"
#include "src/privacy/dp_schedule.h"
#include "src/workspace/layout.h"
#include "src/workspace/workspace.h"

namespace lethe {

namespace {

std::string recorded_public_key(Workspace& ws) {
  const auto key = get_meta(ws.db, "audit.public_key");
  if (!key) {
    fail(ErrorKind::kNotFound, "workspace '{}' has no audit key: it was created before the ledger existed",
         ws.root.string());
  }
  return *key;
}

void run_pubkey(Context& ctx) {
  Workspace ws = open_workspace(ctx.options.workspace);
  const std::string key = recorded_public_key(ws);
  ctx.out.result({{"public_key", key}, {"algorithm", "ed25519"}}, key);
}

struct VerifyFlags {
  std::string pubkey;
  std::string replay = "0";  // a count, or "all"
  std::optional<uint64_t> replay_seed;
};

void run_verify(Context& ctx, const VerifyFlags& flags) {
  const std::string& pubkey_flag = flags.pubkey;
  VerifyOptions options;
  options.config = &ctx.config;
  options.progress = ctx.progress();
  if (flags.replay == "all") {
    options.replay = std::numeric_limits<int64_t>::max();
  } else {
    try {
      size_t used = 0;
      options.replay = std::stoll(flags.replay, &used);
      if (used != flags.replay.size() || options.replay < 0) throw std::invalid_argument("");
    } catch (const std::exception&) {
      fail(ErrorKind::kUsage, "--replay '{}': expected a number of nodes (0 or more) or 'all'", flags.replay);
    }
  }
  if (flags.replay_seed) {
    options.replay_seed = *flags.replay_seed;
  } else {
    randombytes_buf(&options.replay_seed, sizeof options.replay_seed);  // which nodes: not for the prover to choose
  }
  Workspace ws = open_workspace(ctx.options.workspace);
  // A key given on the command line is the one the checker trusts; the recorded one is only a
  // convenience (whoever can change the index can change it too).
  const std::string hex = pubkey_flag.empty() ? recorded_public_key(ws) : pubkey_flag;
  const std::string key = public_key_from_hex(hex);
  if (key.empty()) fail(ErrorKind::kUsage, "--pubkey '{}': expected 64 hex digits (an Ed25519 public key)", hex);
  const AuditReport r = verify_workspace(ws, key, options);
  nlohmann::json violations = nlohmann::json::array();
  std::string text;
  for (const AuditViolation& x : r.violations) {
    violations.push_back({{"check", x.check}, {"where", x.where}, {"what", x.what}});
    text += fmt::format("\n  {}: {}: {}", x.check, x.where, x.what);
  }
  nlohmann::json replayed = nlohmann::json::array();
  std::string replay_text;
  for (const ReplayedNode& n : r.replayed) {
    replayed.push_back({{"component_id", n.component_id}, {"kind", n.kind}, {"shard", n.shard}, {"prefix", n.prefix},
                        {"stored_hash", n.stored_hash}, {"replayed_hash", n.replayed_hash},
                        {"identical", n.stored_hash == n.replayed_hash}, {"seconds", n.seconds}});
  }
  if (options.replay > 0) {
    replay_text = fmt::format("; {} of {} live nodes trained again (seed {}), {} bit-identical", r.replayed.size(),
                              r.replayable, options.replay_seed,
                              std::count_if(r.replayed.begin(), r.replayed.end(),
                                            [](const ReplayedNode& n) { return n.stored_hash == n.replayed_hash; }));
  }
  nlohmann::json j = {{"ok", r.violations.empty()}, {"violations", violations},
                      {"checked", {{"ledger_entries", r.ledger_entries}, {"checkpoints", r.checkpoints},
                                   {"slices", r.slices}, {"slice_files_read", r.slices_read},
                                   {"lineage_edges", r.lineage_edges},
                                   {"replayed", r.replayed.size()}}}};
  nlohmann::json elsewhere = nlohmann::json::array();
  for (const auto& [where, why] : r.not_replayable_here) {
    elsewhere.push_back({{"where", where}, {"why", why}});
    replay_text += fmt::format("\n  not replayed here: {}: {}", where, why);
  }
  if (options.replay > 0) {
    j["replay"] = {{"seed", options.replay_seed}, {"replayable", r.replayable}, {"nodes", replayed},
                   {"not_replayable_here", elsewhere}};
  }
  nlohmann::json bounded = nlohmann::json::array();
  std::string bounded_text;
  for (const DpBoundedComponent& c : r.dp_bounded) {
    const DpBounded& b = c.bound;
    bounded.push_back(dp_bounded_json(b));
    bounded_text += fmt::format("\n  {} saw deleted records and stays live, as DP2 allows: {}", c.label,
                                describe_guarantee(b.unit, b.epsilon, b.delta, b.accountant, b.deleted_units));
  }
  j["dp_bounded"] = bounded;
  const size_t n = r.violations.size();
  if (n > 0) {
    ctx.out.result(j, fmt::format("FAILED: {} violation{}{}{}{}", n, n == 1 ? "" : "s", replay_text, text, bounded_text));
    fail(ErrorKind::kIntegrity, "audit verify found {} violation{}", n, n == 1 ? "" : "s");
  }
  ctx.out.result(j, fmt::format("OK: ledger ({} entries), {} checkpoints, {} slices and {} lineage edges verified{}{}",
                                r.ledger_entries, r.checkpoints, r.slices, r.lineage_edges, replay_text, bounded_text));
}

void run_certificate(Context& ctx, const std::string& request_id, const std::string& out) {
  WritableWorkspace w = open_workspace_for_write(ctx.options.workspace, "audit certificate");
  const nlohmann::json cert = make_certificate(w.ws, request_id);
  if (out.empty()) {
    ctx.out.result(cert, cert.dump(2));
    return;
  }
  write_file_atomic(out, cert.dump(2) + "\n");
  ctx.out.result({{"request_id", request_id}, {"written", out}},
                 fmt::format("Certificate for request {} written to {} (check it with: lethe audit check-certificate {} "
                             "--pubkey {})", request_id, out, out, cert.at("public_key").get<std::string>()));
}

void run_check_certificate(Context& ctx, const std::string& file, const std::string& pubkey_hex) {
  const std::string key = public_key_from_hex(pubkey_hex);
  if (key.empty()) fail(ErrorKind::kUsage, "--pubkey '{}': expected 64 hex digits (an Ed25519 public key)", pubkey_hex);
  if (!fs::is_regular_file(file)) fail(ErrorKind::kNotFound, "certificate file '{}' does not exist", file);
  const std::vector<std::string> problems = check_certificate(read_file(file), key);
  std::string text;
  for (const std::string& p : problems) text += "\n  " + p;
  const nlohmann::json j = {{"ok", problems.empty()}, {"file", file}, {"problems", problems}};
  if (!problems.empty()) {
    ctx.out.result(j, fmt::format("INVALID: {}{}", file, text));
    fail(ErrorKind::kIntegrity, "certificate '{}' does not verify ({} problem{})", file, problems.size(),
         problems.size() == 1 ? "" : "s");
  }
  ctx.out.result(j, fmt::format("OK: {} is signed by {} and every claim matches its signed ledger entries", file, pubkey_hex));
}

void run_keyed_id(Context& ctx, const std::vector<std::string>& names) {
  Workspace ws = open_workspace(ctx.options.workspace);
  if (ws.audit.id_secret.empty()) {
    fail(ErrorKind::kUsage, "cannot read '{}': the keyed hashes need the workspace's ID secret", audit_key_file(ws.root).string());
  }
  nlohmann::json j = nlohmann::json::object();
  std::string text;
  for (const std::string& n : names) {
    j[n] = keyed_id(ws.audit, n);
    text += fmt::format("{}  {}\n", j[n].get<std::string>(), n);
  }
  ctx.out.result({{"keyed", j}}, text);
}

}  // namespace

void add_audit_commands(CLI::App& root, std::vector<Command>& commands) {
  auto* group = root.add_subcommand("audit", "Audit evidence: the signed ledger and its verification");
  group->require_subcommand(1);
  auto* pubkey = group->add_subcommand("pubkey", "Print the workspace's ledger public key (Ed25519, hex)");
  commands.push_back({pubkey, run_pubkey});
  auto* verify = group->add_subcommand(
      "verify", "Check the workspace against its claims: the ledger (hashes, chain, signatures, no entry "
                "removed), every live checkpoint's hash, no file left of a switched-off component, every slice "
                "file's hash and that none holds a deleted record, and that no live component was trained on a "
                "slice version that held one; with --replay, that nodes trained again from their recorded inputs "
                "give the stored bytes. Every violation is named; exit 4 on any");
  auto flags = std::make_shared<VerifyFlags>();
  verify->add_option("--pubkey", flags->pubkey, "The public key to trust (hex); default: the one the workspace records");
  verify->add_option("--replay", flags->replay,
                     "Train N randomly drawn live nodes again from their recorded inputs (slices at their hashes, "
                     "parent, base, configuration, seed) and check each gives its stored checkpoint byte for byte; "
                     "'all' replays every live node. Costs what training those nodes costs");
  verify->add_option("--replay-seed", flags->replay_seed, "Seed of the draw (default: random; the one used is printed)");
  commands.push_back({verify, [flags](Context& ctx) { run_verify(ctx, *flags); }});

  auto* cert = group->add_subcommand(
      "certificate", "Write the deletion certificate of a forget request: the keyed hashes of what it deleted, the "
                     "components it switched off and when, the purge of each slice (old and new hashes), the signed "
                     "ledger entries behind every claim, and a signature. Refused until the purge has finished");
  auto request = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  cert->add_option("--request", *request, "The request ID (as given to or printed by lethe forget)")->required();
  cert->add_option("-o,--out", *out, "Write it to this file (atomically) instead of standard output");
  commands.push_back({cert, [request, out](Context& ctx) { run_certificate(ctx, *request, *out); }});

  auto* check = group->add_subcommand(
      "check-certificate", "Verify a deletion certificate offline, with nothing but the workspace's public key: its "
                           "signature, its ledger entries' hashes and signatures, and that every claim is what they "
                           "say. Exit 4 when anything fails, naming it");
  auto file = std::make_shared<std::string>();
  auto key = std::make_shared<std::string>();
  check->add_option("file", *file, "The certificate (JSON)")->required();
  check->add_option("--pubkey", *key, "The workspace's public key (hex), obtained independently of the certificate")->required();
  commands.push_back({check, [file, key](Context& ctx) { run_check_certificate(ctx, *file, *key); }});

  auto* keyed = group->add_subcommand(
      "keyed-id", "Print the keyed hash under which the ledger and certificates name a record ID or owner: how a "
                  "data owner's ID is shown to be covered by a certificate without revealing it to anyone else");
  auto names = std::make_shared<std::vector<std::string>>();
  keyed->add_option("name", *names, "Record IDs or owner names")->required();
  commands.push_back({keyed, [names](Context& ctx) { run_keyed_id(ctx, *names); }});
}

}  // namespace lethe
