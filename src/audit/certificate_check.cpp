// Checking a deletion certificate offline (certificate.h): a file from anywhere, so it is parsed
// here apart from issuing (which needs a workspace), and fuzzed alone (tests/fuzz).
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "src/index/ledger.h"
#include "src/audit/certificate.h"
#include "src/common/error.h"

namespace lethe {

std::string certificate_signed_bytes(nlohmann::json certificate) {
  certificate.erase("signature");
  return certificate.dump();
}

namespace {

// An integer field (sequence numbers, slice IDs). nlohmann converts a float such as 1e300 to an
// integer with undefined behaviour (UBSan in certificate_fuzz), so anything else is refused.
int64_t integer(const nlohmann::json& v, const char* what) {
  if (!v.is_number_integer()) fail(ErrorKind::kIntegrity, "{} is not an integer: {}", what, v.dump());
  return v.get<int64_t>();
}

}  // namespace

std::vector<std::string> check_certificate(const std::string& text, const std::string& public_key) {
  std::vector<std::string> problems;
  nlohmann::json cert;
  try {
    cert = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return {fmt::format("not a valid JSON document (byte {}): {}", e.byte, e.what())};
  } catch (const nlohmann::json::exception& e) {  // out_of_range: a number such as 1e999
    return {fmt::format("not a valid JSON document: {}", e.what())};
  }
  try {
    if (cert.value("format", "") != kCertificateFormat) problems.push_back(fmt::format("format is not '{}'", kCertificateFormat));
    if (public_key_from_hex(cert.value("public_key", "")) != public_key) {
      problems.push_back("it names another public key than the one given");
    }
    if (!audit_signature_ok(public_key, certificate_signed_bytes(cert), cert.value("signature", ""))) {
      problems.push_back("its signature does not match its contents (changed after signing, or signed with another key)");
    }
    // The embedded ledger entries: each intact and signed by the same key.
    std::map<std::string, std::vector<nlohmann::json>> by_event;
    for (const auto& j : cert.at("ledger").at("entries")) {
      LedgerEntry e{integer(j.at("seq"), "a ledger entry's seq"), j.at("at"), j.at("event"), j.at("payload"), j.at("prev_hash"), j.at("hash"), j.at("signature")};
      if (ledger_entry_hash(e) != e.hash) problems.push_back(fmt::format("ledger entry {}: its contents do not match its hash", e.seq));
      if (!audit_signature_ok(public_key, e.hash, e.signature)) problems.push_back(fmt::format("ledger entry {}: its signature does not verify", e.seq));
      nlohmann::json p = nlohmann::json::parse(e.payload);
      p["_seq"] = e.seq;
      p["_at"] = e.at;
      by_event[e.event].push_back(p);
    }
    // Every claim is what the entries say.
    if (by_event["forget.request"].size() != 1) {
      problems.push_back("it does not carry exactly one forget.request ledger entry");
      return problems;
    }
    const nlohmann::json& asked = by_event["forget.request"].front();
    const auto claim = [&](bool ok, const std::string& what) {
      if (!ok) problems.push_back("claim '" + what + "' is not what the signed ledger entry says");
    };
    claim(cert.at("request").at("request_id") == asked.at("request_id"), "request.request_id");
    claim(cert.at("request").at("deleted") == asked.at("deleted"), "request.deleted");
    claim(cert.at("request").at("reason") == asked.at("reason"), "request.reason");
    claim(cert.at("records") == asked.at("records"), "records");
    claim(cert.at("owners") == asked.at("owners"), "owners");
    claim(cert.at("deactivated_at") == asked.at("_at"), "deactivated_at");
    nlohmann::json claimed = cert.at("components");
    for (auto& c : claimed) c.erase("checkpoint_removed");
    claim(claimed == asked.at("deactivated"), "components");
    claim(cert.value("dp_bounded", nlohmann::json::array()) == asked.value("dp_bounded", nlohmann::json::array()),
          "dp_bounded");
    std::map<int64_t, nlohmann::json> purged;
    for (const auto& p : by_event["purge.slice"]) purged[integer(p.at("slice_id"), "a purge's slice_id")] = p;
    const nlohmann::json& requested = asked.at("slices");
    if (!requested.is_array()) fail(ErrorKind::kIntegrity, "the request's slices are not an array");
    std::set<int64_t> slices;
    for (const auto& id : requested) slices.insert(integer(id, "a requested slice"));
    claim(cert.at("purges").size() == slices.size() && purged.size() == slices.size(), "purges");
    for (const auto& p : cert.at("purges")) {
      const int64_t slice = integer(p.at("slice_id"), "a claimed purge's slice_id");
      const auto it = purged.find(slice);
      claim(it != purged.end() && slices.count(slice) && it->second.at("old_hash") == p.at("old_hash") &&
                it->second.at("new_hash") == p.at("new_hash") && it->second.at("removed_records") == p.at("removed_records") &&
                it->second.at("_seq") == p.at("ledger_seq") && it->second.at("_seq") > asked.at("_seq"),
            fmt::format("purges (slice {})", p.at("slice_id").dump()));
    }
    bool closed = slices.empty();
    for (const auto& p : by_event["forget.purged"]) {
      const auto done = p.at("requests").get<std::vector<std::string>>();
      closed = closed || std::find(done.begin(), done.end(), asked.at("request_id").get<std::string>()) != done.end();
    }
    claim(closed, "the purge finished");
  } catch (const nlohmann::json::exception& e) {
    problems.push_back(fmt::format("a field is missing or of the wrong type: {}", e.what()));
  } catch (const Error& e) {
    problems.push_back(fmt::format("a field is of the wrong type: {}", e.what()));
  }
  return problems;
}

}  // namespace lethe
