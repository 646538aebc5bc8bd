# Lethe: the two-command quick start is `make demo` then `make test`.
# Every target installs what is missing first (scripts/install-deps.sh, apt-get).

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CTEST_JOBS ?= 2

.PHONY: all deps build demo test check-asan docs clean

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

# Regenerates the references generated from the code: docs/config.md from the config field
# table, docs/cli-reference.md from the command-line definitions.
docs: build
	./$(BUILD)/lethe config docs > docs/config.md
	./$(BUILD)/lethe cli-reference > docs/cli-reference.md

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
