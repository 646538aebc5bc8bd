// Deletion certificates (src/audit/certificate.h) issued from a small workspace with S3T nodes
// registered without training: issued only for a finished deletion, checked with the
// workspace's public key alone, and refused once anything in them changes.
#include <catch2/catch.hpp>

#include <algorithm>

#include "src/audit/certificate.h"
#include "src/common/error.h"
#include "src/workspace/purge.h"
#include "tests/support/error_kind.h"
#include "tests/support/small_workspace.h"
#include "tests/support/temp_dir.h"

using namespace lethe;

namespace {

struct Forgotten {
  test::TempDir dir;
  fs::path root = dir / "ws";
  WritableWorkspace w;
  ForgetResult forget;

  Forgotten() : w(made(root)) {
    test::register_s3t_nodes(w.ws);
    forget = test::forget_ids(w.ws, {test::record_in(w.ws, 0, 1), test::record_in(w.ws, 1, 0)}, "DSR-1");
  }
  static WritableWorkspace made(const fs::path& root) {
    test::create_small_workspace(root, test::small_config(2, 2, 2), test::text_records(0, 60, 30));
    return open_workspace_for_write(root, "test");
  }
  const std::string& key() const { return w.ws.audit.public_key; }
};


bool mentions(const std::vector<std::string>& problems, const std::string& text) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const std::string& p) { return p.find(text) != std::string::npos; });
}

std::string joined(const std::vector<std::string>& problems) {
  std::string s;
  for (const std::string& p : problems) s += p + "\n";
  return s;
}

// `cert` signed again with the workspace's own key: what its holder could forge.
std::string resigned(nlohmann::json cert, const AuditKeys& keys) {
  cert["signature"] = audit_sign(keys, certificate_signed_bytes(cert));
  return cert.dump();
}

}  // namespace

TEST_CASE("certificate: issued once the purge is done, it checks with the workspace's public key only",
          "[certificate]") {
  Forgotten f;
  CHECK(test::kind_of([&] { make_certificate(f.w.ws, "DSR-1"); }) == ErrorKind::kConflict);  // purge not done
  CHECK(test::kind_of([&] { make_certificate(f.w.ws, "DSR-404"); }) == ErrorKind::kNotFound);
  purge_pending(f.w.ws);
  const nlohmann::json cert = make_certificate(f.w.ws, "DSR-1");
  CHECK(cert["format"] == kCertificateFormat);
  CHECK(cert["records"].size() == 2);
  CHECK(cert["components"].size() == f.forget.deactivated.size());
  for (const auto& c : cert["components"]) CHECK(c["checkpoint_removed"] == true);
  CHECK(cert["purges"].size() == 2);
  const auto problems = check_certificate(cert.dump(2), f.key());
  INFO(joined(problems));
  CHECK(problems.empty());
  CHECK(mentions(check_certificate(cert.dump(), generate_audit_keys().public_key), "signature"));
}

TEST_CASE("certificate: a changed claim, signature or embedded entry fails the check", "[certificate]") {
  Forgotten f;
  purge_pending(f.w.ws);
  const nlohmann::json cert = make_certificate(f.w.ws, "DSR-1");
  REQUIRE(check_certificate(cert.dump(), f.key()).empty());
  SECTION("a claim changed without signing again") {
    nlohmann::json c = cert;
    c["request"]["deleted"] = 1;
    CHECK(mentions(check_certificate(c.dump(), f.key()), "its signature does not match its contents"));
  }
  SECTION("a claim changed and signed again: the signed ledger entry still says otherwise") {
    nlohmann::json c = cert;
    c["request"]["deleted"] = 1;
    const auto problems = check_certificate(resigned(c, f.w.ws.audit), f.key());
    INFO(joined(problems));
    CHECK(mentions(problems, "claim 'request.deleted'"));
  }
  SECTION("a switched-off component left out") {
    nlohmann::json c = cert;
    c["components"].erase(0);
    CHECK(mentions(check_certificate(resigned(c, f.w.ws.audit), f.key()), "claim 'components'"));
  }
  SECTION("a purge left out, with its ledger entry") {
    nlohmann::json c = cert;
    c["purges"].erase(0);
    auto& entries = c["ledger"]["entries"];
    for (size_t i = 0; i < entries.size(); ++i) {
      if (entries[i]["event"] == "purge.slice") {
        entries.erase(i);
        break;
      }
    }
    CHECK(mentions(check_certificate(resigned(c, f.w.ws.audit), f.key()), "claim 'purges'"));
  }
  SECTION("an embedded ledger entry changed") {
    nlohmann::json c = cert;
    for (auto& e : c["ledger"]["entries"]) {
      if (e["event"] == "forget.request") e["at"] = "2000-01-01T00:00:00Z";
    }
    CHECK(mentions(check_certificate(resigned(c, f.w.ws.audit), f.key()), "its contents do not match its hash"));
  }
}
