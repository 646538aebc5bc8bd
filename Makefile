# Lethe: the two-command quick start is `make demo` then `make test`.
# Every target installs what is missing first (scripts/install-deps.sh, apt-get), except
# cuda-check, which needs only CMake, Ninja and nvcc.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
CUDA_CHECK_BUILD ?= build-cuda-check
FUZZ_SECONDS ?= 20
FUZZ_TARGETS = safetensors_fuzz jsonl_fuzz csv_fuzz idx_fuzz config_fuzz predict_fuzz certificate_fuzz
JOBS       ?= $(shell nproc)
CTEST_JOBS ?= 2

.PHONY: all deps build demo test check-asan fuzz cuda-check docs clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# The main job on built-in data, in ./lethe-ws.
demo: build
	./$(BUILD)/lethe quickstart

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(CTEST_JOBS)

# AddressSanitizer + UndefinedBehaviorSanitizer build; runs the unit tests.
$(ASAN_BUILD)/build.ninja: | deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLETHE_SANITIZE=ON

check-asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest -L unit --output-on-failure -j $(CTEST_JOBS)

# libFuzzer targets (tests/fuzz/README.md), clang with ASan+UBSan: each parser of untrusted files
# runs FUZZ_SECONDS from its checked-in corpus; any finding fails.
$(FUZZ_BUILD)/build.ninja: | deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DLETHE_FUZZ=ON

fuzz: deps $(FUZZ_BUILD)/build.ninja
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(FUZZ_TARGETS)
	./tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The CUDA kernels (kernels/) compiled and linked for sm_90 plus PTX, as a project of their own
# without LibTorch, with the standalone check binary; then its tests: the kernels against their
# CPU references (skipped where there is no GPU) and, where cuobjdump is found, that the binary
# carries sm_90 machine code and PTX. kernels/README.md says how to run the binary on a GPU.
cuda-check:
	cmake -S kernels -B $(CUDA_CHECK_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DLETHE_CUDA=ON \
	  "-DLETHE_CUDA_ARCHITECTURES=90-real;90-virtual"
	cmake --build $(CUDA_CHECK_BUILD) -j $(JOBS)
	cd $(CUDA_CHECK_BUILD) && ctest -V

# Regenerates the references generated from the code: docs/config.md from the config field
# table, docs/cli-reference.md from the command-line definitions.
docs: build
	./$(BUILD)/lethe config docs > docs/config.md
	./$(BUILD)/lethe cli-reference > docs/cli-reference.md

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(CUDA_CHECK_BUILD)
