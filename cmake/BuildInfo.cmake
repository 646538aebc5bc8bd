# Run at build time (cmake -P): writes lethe_build_info.h with the version and git commit.
# configure_file rewrites the header only when its content changes, so an unchanged commit
# triggers no rebuild.
execute_process(
  COMMAND git -C "${SOURCE_DIR}" describe --always --dirty --abbrev=12 --exclude=*
  OUTPUT_VARIABLE LETHE_GIT_COMMIT
  OUTPUT_STRIP_TRAILING_WHITESPACE
  ERROR_QUIET)
if(NOT LETHE_GIT_COMMIT)
  set(LETHE_GIT_COMMIT "unknown")
endif()
configure_file("${SOURCE_DIR}/cmake/lethe_build_info.h.in" "${OUTPUT}" @ONLY)
