#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lethe_build_info.h"
#include "src/cli/context.h"
#include "src/common/platform.h"

namespace lethe {

nlohmann::json version_report() {
  const BlasInfo blas = blas_info();
  return {
      {"version", LETHE_VERSION},
      {"commit", LETHE_GIT_COMMIT},
      {"libtorch", torch_version()},
      {"blas", {{"name", blas.name}, {"detail", blas.detail}}},
      {"mpi", mpi_library_version()},
      {"cuda", built_with_cuda()},
      {"compiler", compiler_version()},
  };
}

std::string format_version_report(const nlohmann::json& r) {
  const auto& blas = r.at("blas");
  std::string s = fmt::format(
      "lethe {} (commit {})\n"
      "  LibTorch  {}\n"
      "  BLAS      {} ({})\n"
      "  MPI       {}\n"
      "  CUDA      {}\n"
      "  Compiler  {}",
      r.at("version").get<std::string>(), r.at("commit").get<std::string>(),
      r.at("libtorch").get<std::string>(), blas.at("name").get<std::string>(),
      blas.at("detail").get<std::string>(), r.at("mpi").get<std::string>(),
      r.at("cuda").get<bool>() ? "on" : "off", r.at("compiler").get<std::string>());
  return s;
}

}  // namespace lethe
