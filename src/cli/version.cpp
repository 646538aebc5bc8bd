#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lethe_build_info.h"
#include "src/cli/context.h"
#include "src/common/platform.h"

namespace lethe {

nlohmann::json version_report() {
  const BlasInfo blas = blas_info();
  const CudaInfo cuda = cuda_info();
  return {
      {"version", LETHE_VERSION},
      {"commit", LETHE_GIT_COMMIT},
      {"libtorch", torch_version()},
      {"blas", {{"name", blas.name}, {"detail", blas.detail}}},
      {"mpi", mpi_library_version()},
      {"cuda", built_with_cuda()},
      {"cuda_runtime", cuda.runtime},
      {"cuda_driver", cuda.driver},
      {"gpus", cuda.gpus},
      {"no_gpu_reason", cuda.no_gpu_reason},
      {"nccl", cuda.nccl},
      {"compiler", compiler_version()},
  };
}

std::string format_version_report(const nlohmann::json& r) {
  const auto& blas = r.at("blas");
  std::string cuda = "off";
  if (r.at("cuda").get<bool>()) {
    const auto gpus = r.at("gpus").get<std::vector<std::string>>();
    std::string devices;
    for (size_t i = 0; i < gpus.size(); ++i) devices += fmt::format("{}GPU {}: {}", i ? ", " : "", i, gpus[i]);
    if (gpus.empty()) devices = "no GPU (" + r.at("no_gpu_reason").get<std::string>() + "): runs on the CPU";
    cuda = fmt::format("on (runtime {}), {}", r.at("cuda_runtime").get<std::string>(), devices);
  }
  return fmt::format(
      "lethe {} (commit {})\n"
      "  LibTorch  {}\n"
      "  BLAS      {} ({})\n"
      "  MPI       {}\n"
      "  CUDA      {}\n"
      "  NCCL      {}\n"
      "  Compiler  {}",
      r.at("version").get<std::string>(), r.at("commit").get<std::string>(), r.at("libtorch").get<std::string>(),
      blas.at("name").get<std::string>(), blas.at("detail").get<std::string>(), r.at("mpi").get<std::string>(), cuda,
      r.at("nccl").get<std::string>().empty() ? "none" : r.at("nccl").get<std::string>(),
      r.at("compiler").get<std::string>());
}

}  // namespace lethe
