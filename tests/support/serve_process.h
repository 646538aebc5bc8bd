// A `lethe serve` process for end-to-end tests: started on a free loopback port, reached
// through cpp-httplib's client, stopped with a signal; its output captured in files.
#pragma once

#include <httplib.h>
#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "src/common/fs.h"
#include "tests/support/run_process.h"
#include "tests/support/temp_dir.h"

namespace lethe::test {

class ServeProcess {
 public:
  // `lethe --json --workspace WS [ARGS before serve] serve --port 0 [SERVE_ARGS]`; returns once
  // it prints its listening line (Catch REQUIRE fails after 120 s or an early exit).
  explicit ServeProcess(const fs::path& ws, std::vector<std::string> global_args = {},
                        std::vector<std::string> serve_args = {});
  ~ServeProcess();  // SIGKILL if still running
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  int port() const { return port_; }
  const nlohmann::json& listening() const { return listening_; }
  std::unique_ptr<httplib::Client> client() const;  // loopback, generous timeouts
  std::string token() const;                        // the workspace's serve.token

  // Sends `signal` and waits for the exit (at most 120 s, then SIGKILL and a failed REQUIRE):
  // exit code (128 + signal when killed by it), stdout and stderr.
  ProcessResult stop(int signal);

 private:
  TempDir dir_;
  fs::path ws_;
  pid_t pid_ = -1;
  int port_ = 0;
  nlohmann::json listening_;
};

// POSTs `body` as JSON; the status and the body parsed (null when it is not JSON).
struct JsonReply {
  int status = 0;
  nlohmann::json body;
};
JsonReply post_json(httplib::Client& client, const std::string& path, const nlohmann::json& body,
                    const std::string& token = "");
JsonReply get_json(httplib::Client& client, const std::string& path, const std::string& token = "");

}  // namespace lethe::test
