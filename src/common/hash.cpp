#include "src/common/hash.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>

#include "src/common/error.h"

namespace lethe {

namespace {

constexpr size_t kDigestBytes = 32;

std::string to_hex(const unsigned char* digest) {
  char hex[kDigestBytes * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, digest, kDigestBytes);
  return std::string(hex, kDigestBytes * 2);
}

void init_sodium() {
  if (sodium_init() < 0) fail(ErrorKind::kInternal, "libsodium failed to initialise");
}

}  // namespace

std::string blake2b_hex(std::string_view bytes) {
  init_sodium();
  unsigned char digest[kDigestBytes];
  crypto_generichash(digest, kDigestBytes, reinterpret_cast<const unsigned char*>(bytes.data()),
                     bytes.size(), nullptr, 0);
  return to_hex(digest);
}

std::string hash_file(const fs::path& path) {
  init_sodium();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_errno("cannot open for hashing", path.string());
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, kDigestBytes);
  unsigned char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      fail_errno("cannot read for hashing", path.string());
    }
    if (n == 0) break;
    crypto_generichash_update(&state, buf, static_cast<size_t>(n));
  }
  ::close(fd);
  unsigned char digest[kDigestBytes];
  crypto_generichash_final(&state, digest, kDigestBytes);
  return to_hex(digest);
}

}  // namespace lethe
