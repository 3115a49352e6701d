# The commands of the project. `make run` and `make test` work on a fresh Debian bookworm
# machine: `setup` installs what is missing (scripts/setup), then CMake and Ninja build.
#
#   make run        build, then run the demo pipeline (examples/demo.toml); Ctrl-C stops it
#   make test       build, then the unit and integration tests
#   make test-slow  the slow tests (crash loops, soak)
#   make asan|tsan  unit tests under AddressSanitizer+UBSan / ThreadSanitizer (own build dirs)
#   make bench      build and run the benchmarks (bench/); figures go to docs/benchmarks.md
#   make fuzz       build the libFuzzer targets (fuzz/) with clang-14 and run each FUZZ_SECONDS
#   make format     clang-format over src/ tests/ bench/
#   make tidy       clang-tidy over src/ (uses build/compile_commands.json)
#   make clean      remove the build directories

SHELL := /bin/bash
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
TEST_JOBS ?= 2
# ctest's limit for a test without its own (tests/CMakeLists.txt sets one per label).
TEST_TIMEOUT ?= 600
CMAKE_ARGS ?=
FUZZ_SECONDS ?= 60

SOURCES = $(shell find src tests bench -name '*.cpp' -o -name '*.h' -o -name '*.hpp' 2>/dev/null)

.PHONY: all setup configure build run test test-slow asan tsan bench fuzz format tidy clean

all: build

setup:
	./scripts/setup

configure: setup
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)

build: configure
	ninja -C $(BUILD_DIR) -j$(JOBS)

run: build
	./$(BUILD_DIR)/sluice run --config examples/demo.toml

test: build
	ctest --test-dir $(BUILD_DIR) -L 'unit|integration' --output-on-failure -j$(TEST_JOBS) \
	  --timeout $(TEST_TIMEOUT)

test-slow: build
	ctest --test-dir $(BUILD_DIR) -L slow --output-on-failure --timeout 3600

# Sanitizer builds: Debug, tests only (no benchmarks), each in its own directory.
asan: setup
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DSLUICE_SANITIZE=address,undefined -DSLUICE_BUILD_BENCH=OFF $(CMAKE_ARGS)
	ninja -C build-asan -j$(JOBS)
	ctest --test-dir build-asan -L unit --output-on-failure -j$(TEST_JOBS) --timeout $(TEST_TIMEOUT)

tsan: setup
	cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DSLUICE_SANITIZE=thread -DSLUICE_BUILD_BENCH=OFF $(CMAKE_ARGS)
	ninja -C build-tsan -j$(JOBS)
	ctest --test-dir build-tsan -L unit --output-on-failure -j$(TEST_JOBS) --timeout $(TEST_TIMEOUT)

# Every benchmark target in bench/ (micro *_bench and end-to-end *_e2e), one after the other
# so that they do not compete for the two cores.
bench: build
	@set -e; for src in bench/*_bench.cpp bench/*_e2e.cpp; do \
	  [ -e "$$src" ] || continue; \
	  name=$$(basename "$$src" .cpp); \
	  echo "== $$name"; \
	  ./$(BUILD_DIR)/bench/$$name; \
	done

# Each fuzz/<name>_fuzz target runs on a scratch copy of its seed corpus fuzz/corpus/<name>/;
# crash inputs are written to build-fuzz/ (keep them under fuzz/corpus/<name>/, see fuzz/README.md).
fuzz: setup
	CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DSLUICE_FUZZ=ON -DSLUICE_BUILD_TESTS=OFF -DSLUICE_BUILD_BENCH=OFF $(CMAKE_ARGS)
	ninja -C build-fuzz -j$(JOBS)
	@set -e; for src in fuzz/*_fuzz.cpp; do \
	  [ -e "$$src" ] || continue; \
	  name=$$(basename "$$src" .cpp); corpus=fuzz/corpus/$${name%_fuzz}; \
	  work=build-fuzz/corpus/$$name; rm -rf "$$work"; mkdir -p "$$work"; \
	  if [ -d "$$corpus" ]; then cp -r "$$corpus"/. "$$work"/; fi; \
	  echo "== $$name for $(FUZZ_SECONDS)s"; \
	  ./build-fuzz/fuzz/$$name "$$work" -max_total_time=$(FUZZ_SECONDS) \
	    -artifact_prefix=build-fuzz/$$name-; \
	done

format:
	clang-format -i $(SOURCES)

tidy: configure
	find src -name '*.cpp' -print0 | xargs -0 -n 4 -P $(JOBS) clang-tidy -p $(BUILD_DIR) --quiet

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan build-fuzz
