// lethe audit: the evidence a regulator can check. `pubkey` prints the workspace's ledger
// public key; `verify` checks the ledger chain and signatures and names every violation.
// (Work in progress for issue 7: the checks of checkpoints, slices and lineage come next.)
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "shards/lineage_index.h"
#include "src/audit/ledger.h"
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
  const std::vector<LedgerViolation> v = verify_ledger(ws.db, key);
  nlohmann::json violations = nlohmann::json::array();
  std::string text;
  for (const LedgerViolation& x : v) {
    violations.push_back({{"check", "ledger"}, {"entry", x.seq}, {"what", x.what}});
    text += x.seq > 0 ? fmt::format("\n  ledger entry {}: {}", x.seq, x.what) : fmt::format("\n  ledger: {}", x.what);
  }
  const size_t entries = read_ledger(ws.db).size();
  const nlohmann::json j = {{"ok", v.empty()}, {"ledger_entries", entries}, {"violations", violations}};
  if (!v.empty()) {
    ctx.out.result(j, fmt::format("FAILED: {} violation{}{}", v.size(), v.size() == 1 ? "" : "s", text));
    fail(ErrorKind::kIntegrity, "audit verify found {} violation{}", v.size(), v.size() == 1 ? "" : "s");
  }
  ctx.out.result(j, fmt::format("OK: {} ledger entr{}, chain and signatures intact", entries, entries == 1 ? "y" : "ies"));
}

}  // namespace

void add_audit_commands(CLI::App& root, std::vector<Command>& commands) {
  auto* group = root.add_subcommand("audit", "Audit evidence: the signed ledger and its verification");
  group->require_subcommand(1);
  auto* pubkey = group->add_subcommand("pubkey", "Print the workspace's ledger public key (Ed25519, hex)");
  commands.push_back({pubkey, run_pubkey});
  auto* verify = group->add_subcommand(
      "verify", "Check the ledger: every entry's hash, its chain to the previous one, its signature, and that "
                "no entry was removed; every violation is named. Exit 4 on any violation");
  auto key = std::make_shared<std::string>();
  verify->add_option("--pubkey", *key, "The public key to trust (hex); default: the one the workspace records");
  commands.push_back({verify, [key](Context& ctx) { run_verify(ctx, *key); }});
}

}  // namespace lethe
