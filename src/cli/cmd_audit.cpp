// lethe audit: the evidence a regulator can check. `pubkey` prints the workspace's ledger
// public key; `verify` checks the ledger, checkpoints, slices and lineage and names every
// violation (src/audit/audit_verify.h).
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "shards/lineage_index.h"
#include "shards/ledger.h"
#include "src/audit/audit_verify.h"
#include "src/cli/context.h"
#include "src/common/error.h"
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

void run_verify(Context& ctx, const std::string& pubkey_flag) {
  Workspace ws = open_workspace(ctx.options.workspace);
  // A key given on the command line is the one the checker trusts; the recorded one is only a
  // convenience (whoever can change the index can change it too).
  const std::string hex = pubkey_flag.empty() ? recorded_public_key(ws) : pubkey_flag;
  const std::string key = public_key_from_hex(hex);
  if (key.empty()) fail(ErrorKind::kUsage, "--pubkey '{}': expected 64 hex digits (an Ed25519 public key)", hex);
  const AuditReport r = verify_workspace(ws, key);
  nlohmann::json violations = nlohmann::json::array();
  std::string text;
  for (const AuditViolation& x : r.violations) {
    violations.push_back({{"check", x.check}, {"where", x.where}, {"what", x.what}});
    text += fmt::format("\n  {}: {}: {}", x.check, x.where, x.what);
  }
  const nlohmann::json j = {{"ok", r.violations.empty()}, {"violations", violations},
                            {"checked", {{"ledger_entries", r.ledger_entries}, {"checkpoints", r.checkpoints},
                                         {"slices", r.slices}, {"lineage_edges", r.lineage_edges}}}};
  const size_t n = r.violations.size();
  if (n > 0) {
    ctx.out.result(j, fmt::format("FAILED: {} violation{}{}", n, n == 1 ? "" : "s", text));
    fail(ErrorKind::kIntegrity, "audit verify found {} violation{}", n, n == 1 ? "" : "s");
  }
  ctx.out.result(j, fmt::format("OK: ledger ({} entries), {} checkpoints, {} slices and {} lineage edges verified",
                                r.ledger_entries, r.checkpoints, r.slices, r.lineage_edges));
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
                "slice version that held one. Every violation is named; exit 4 on any");
  auto key = std::make_shared<std::string>();
  verify->add_option("--pubkey", *key, "The public key to trust (hex); default: the one the workspace records");
  commands.push_back({verify, [key](Context& ctx) { run_verify(ctx, *key); }});
}

}  // namespace lethe
