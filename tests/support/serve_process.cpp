#include "tests/support/serve_process.h"

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "src/common/fs.h"
#include "src/workspace/layout.h"

namespace lethe::test {

ServeProcess::ServeProcess(const fs::path& ws, std::vector<std::string> global_args, std::vector<std::string> serve_args)
    : ws_(ws) {
  std::vector<std::string> argv = {LETHE_BIN, "--json", "--workspace", ws.string()};
  argv.insert(argv.end(), global_args.begin(), global_args.end());
  argv.insert(argv.end(), {"serve", "--port", "0"});
  argv.insert(argv.end(), serve_args.begin(), serve_args.end());
  const std::string out = (dir_ / "out").string(), err = (dir_ / "err").string();
  pid_ = ::fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (o < 0 || e < 0 || ::dup2(o, 1) < 0 || ::dup2(e, 2) < 0) ::_exit(127);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string text = fs::exists(out) ? read_file(out) : "";
    if (text.find('\n') != std::string::npos) {
      listening_ = nlohmann::json::parse(text.substr(0, text.find('\n')));
      port_ = listening_.at("port").get<int>();
      return;
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      FAIL("lethe serve exited before listening: " << (fs::exists(err) ? read_file(err) : ""));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // A constructor that fails runs no destructor: the child goes here.
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  FAIL("lethe serve did not print its listening line within 120 s");
}

ServeProcess::~ServeProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

std::unique_ptr<httplib::Client> ServeProcess::client() const {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
  c->set_connection_timeout(10);
  c->set_read_timeout(120);
  c->set_write_timeout(60);
  return c;
}

std::string ServeProcess::token() const {
  std::string t = read_file(serve_token_file(ws_));
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  return t;
}

ProcessResult ServeProcess::stop(int signal) {
  ProcessResult r;
  REQUIRE(pid_ > 0);
  ::kill(pid_, signal);
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (::waitpid(pid_, &status, WNOHANG) != pid_) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
      FAIL("lethe serve did not exit within 120 s of signal " << signal);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pid_ = -1;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file(dir_ / "out");
  r.err = read_file(dir_ / "err");
  return r;
}

namespace {

JsonReply reply_of(const httplib::Result& res) {
  JsonReply r;
  if (!res) return r;  // status 0: no answer (connection refused or reset)
  r.status = res->status;
  r.body = nlohmann::json::parse(res->body, nullptr, false);
  if (r.body.is_discarded()) r.body = nullptr;
  return r;
}

}  // namespace

JsonReply post_json(httplib::Client& client, const std::string& path, const nlohmann::json& body,
                    const std::string& token) {
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  return reply_of(client.Post(path.c_str(), headers, body.dump(), "application/json"));
}

JsonReply get_json(httplib::Client& client, const std::string& path, const std::string& token) {
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  return reply_of(client.Get(path.c_str(), headers));
}

}  // namespace lethe::test
