// Deletion certificates: what a regulator or data owner keeps as proof that one forget request
// was carried out, checkable offline with the workspace's public key alone.
//
// A certificate states the request, the keyed hashes of the IDs and owners it deleted, the
// components it switched off (with their checkpoint hashes, and that the files are gone), when,
// and the purge of each slice that held the records (old and new slice hashes). It carries the
// signed ledger entries those claims come from, and is itself signed. check_certificate trusts
// only the public key it is given: it checks the certificate's signature, each embedded
// entry's hash and signature, and that every claim is what those entries say.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "src/workspace/workspace.h"

namespace lethe {

inline constexpr const char* kCertificateFormat = "lethe-deletion-certificate/1";

// The certificate of the request given the plain ID `request_id` (it names the request by its
// keyed ID, as the ledger does). ErrorKind::kNotFound for an unknown request, kConflict while
// its purge is unfinished, kIntegrity when a switched-off component's checkpoint is still on disk.
nlohmann::json make_certificate(Workspace& ws, const std::string& request_id);

// What a certificate's signature covers: the document without "signature", as compact JSON
// with sorted keys (nlohmann's objects are ordered maps: the same bytes for the same content).
// nlohmann::json::type_error when `certificate` is not an object.
std::string certificate_signed_bytes(nlohmann::json certificate);

// Every problem found (empty: the certificate is valid for `public_key`, 32 bytes). `text` is
// the file as read; a malformed file is one problem naming where it fails to parse.
std::vector<std::string> check_certificate(const std::string& text, const std::string& public_key);

}  // namespace lethe
