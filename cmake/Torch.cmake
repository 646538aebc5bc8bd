# LibTorch from the PyPI torch wheel in the project's virtual environment (.venv, made by
# scripts/install-deps.sh from python-requirements.txt, where the version is pinned).
#
# Three things TorchConfig.cmake does not do for us:
#  - It looks for libtorch.so and libc10.so on the system paths before its own folder, so a
#    machine that still has Debian's libtorch-dev would mix two LibTorch versions silently. The
#    wheel's libraries are named explicitly here.
#  - The wheel ships fmt 12 headers in its include folder; spdlog from Debian is built against
#    Debian's fmt 9 and does not compile against fmt 12. No LibTorch header we include needs fmt, so
#    the include folder is replaced by a copy of its links without fmt/ (lethe_hide_torch_fmt).
#  - Its C++ ABI must be the one Debian's libraries use (the new, C++11 ABI); checked here.
#  - Its CUDA libraries come from the nvidia-* wheels beside it (libtorch_cuda.so finds them
#    through its own RPATH), but TorchConfig links cudart from the system toolkit, whose folder then
#    comes first in our binaries' RPATH, and ld would resolve libtorch_cuda's libnccl.so.2 to the
#    toolkit's older NCCL (undefined ncclCommGrow...). The wheels' folders go first, for the link
#    and at run time.

set(LETHE_PYTHON "${PROJECT_SOURCE_DIR}/.venv/bin/python" CACHE FILEPATH
    "The Python of the venv whose torch wheel provides LibTorch (scripts/install-deps.sh makes it)")

file(STRINGS "${PROJECT_SOURCE_DIR}/python-requirements.txt" _lethe_torch_pin REGEX "^torch==")
string(REPLACE "torch==" "" LETHE_TORCH_PIN "${_lethe_torch_pin}")

execute_process(
  COMMAND "${LETHE_PYTHON}" -c
    "import os, torch, torch.utils; print(torch.__version__.split('+')[0]); print(torch.utils.cmake_prefix_path); print(os.path.join(os.path.dirname(torch.__file__), 'lib')); print(int(torch._C._GLIBCXX_USE_CXX11_ABI)); print(torch.version.cuda or '')"
  RESULT_VARIABLE _lethe_rc OUTPUT_VARIABLE _lethe_out ERROR_VARIABLE _lethe_err
  OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _lethe_rc EQUAL 0)
  message(FATAL_ERROR "LibTorch: '${LETHE_PYTHON}' cannot import torch (${_lethe_err}). "
                      "Run scripts/install-deps.sh (every make target does), or set LETHE_PYTHON.")
endif()
string(REPLACE "\n" ";" _lethe_out "${_lethe_out}")
list(GET _lethe_out 0 LETHE_TORCH_VERSION)
list(GET _lethe_out 1 _lethe_torch_prefix)
list(GET _lethe_out 2 _lethe_torch_lib)
list(GET _lethe_out 3 _lethe_torch_abi)
list(LENGTH _lethe_out _lethe_n)
set(LETHE_TORCH_CUDA "")
if(_lethe_n GREATER 4)
  list(GET _lethe_out 4 LETHE_TORCH_CUDA)
endif()

if(NOT LETHE_TORCH_VERSION STREQUAL LETHE_TORCH_PIN)
  message(FATAL_ERROR "LibTorch: the venv has torch ${LETHE_TORCH_VERSION}, python-requirements.txt pins "
                      "${LETHE_TORCH_PIN}. Run scripts/install-deps.sh.")
endif()
if(NOT _lethe_torch_abi EQUAL 1)
  message(FATAL_ERROR "LibTorch: torch ${LETHE_TORCH_VERSION} was built with the old C++ ABI "
                      "(_GLIBCXX_USE_CXX11_ABI=0); Debian's libraries use the new one and cannot be mixed with it.")
endif()

set(TORCH_LIBRARY "${_lethe_torch_lib}/libtorch.so" CACHE FILEPATH "LibTorch (the venv's torch wheel)" FORCE)
set(c10_LIBRARY "${_lethe_torch_lib}/libc10.so" CACHE FILEPATH "c10 (the venv's torch wheel)" FORCE)
# Only the architectures Lethe's kernels target: without this, torch's CMake probes for a GPU
# and, finding none, lists every architecture it knows.
if(NOT DEFINED TORCH_CUDA_ARCH_LIST)
  set(TORCH_CUDA_ARCH_LIST "9.0")
endif()
# Torch_DIR too: a build folder configured before against another LibTorch keeps it cached.
set(Torch_DIR "${_lethe_torch_prefix}/Torch" CACHE PATH "TorchConfig.cmake of the venv's torch wheel" FORCE)
list(PREPEND CMAKE_PREFIX_PATH "${_lethe_torch_prefix}")
find_package(Torch REQUIRED)

file(GLOB _lethe_nvidia_libs LIST_DIRECTORIES true "${_lethe_torch_lib}/../../nvidia/*/lib")
foreach(dir IN LISTS _lethe_nvidia_libs)
  get_filename_component(dir "${dir}" ABSOLUTE)
  add_link_options("LINKER:-rpath-link,${dir}" "LINKER:-rpath,${dir}")
endforeach()
message(STATUS "LibTorch ${LETHE_TORCH_VERSION} (CUDA ${LETHE_TORCH_CUDA}) from ${_lethe_torch_lib}")

# The wheel's include folder as links, without fmt/ (see above), in place of the original on every
# LibTorch target; marked SYSTEM so that warnings inside LibTorch headers do not drown ours.
function(lethe_hide_torch_fmt)
  get_filename_component(original "${_lethe_torch_lib}/../include" ABSOLUTE)
  set(shim "${CMAKE_BINARY_DIR}/torch-include")
  file(MAKE_DIRECTORY "${shim}")
  file(GLOB entries RELATIVE "${original}" "${original}/*")
  foreach(entry IN LISTS entries)
    if(NOT entry STREQUAL "fmt" AND NOT EXISTS "${shim}/${entry}")
      file(CREATE_LINK "${original}/${entry}" "${shim}/${entry}" SYMBOLIC)
    endif()
  endforeach()
  foreach(target torch torch_cpu torch_cuda torch_cpu_library torch_cuda_library c10 c10_cuda)
    if(TARGET ${target})
      get_target_property(dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
      if(dirs)
        string(REPLACE "${original}" "${shim}" dirs "${dirs}")
        set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${dirs}")
        set_property(TARGET ${target} PROPERTY INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${dirs}")
      endif()
    endif()
  endforeach()
endfunction()
lethe_hide_torch_fmt()
