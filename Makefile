# Reglo Hub — the two commands of the Quick start, and a few more.
#   make demo   install what is missing, build, sync the bundled sample schools into SQLite
#   make test   install what is missing, build, run every test, replay the fuzz corpora
#   make bench  benchmarks (not part of make test)
#   make fuzz   fuzz every parser of untrusted bytes for FUZZ_SECONDS each (tools/fuzz)
#   make sanitize  the engine, relay, pipeline and ingest suites under ThreadSanitizer
BUILD_DIR ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD_TYPE ?= RelWithDebInfo

FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 2
TSAN_BUILD_DIR ?= build-tsan
# The suites that run threads against each other (SQLite backends; the PostgreSQL twins run the
# same cases), and what they start (reglo-hub, the runner), all built with -fsanitize=thread.
TSAN_TARGETS = engine_test serve_test relay_test relay_process_test pipeline_test ingest_test \
  ingest_api_test security_test
TSAN_SUITES = engine relay pipeline ingest security

.PHONY: all deps configure build test demo bench format clean fuzz sanitize

all: build

deps:
	@tools/install-deps

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) > $(BUILD_DIR).configure.log 2>&1 \
	  || { cat $(BUILD_DIR).configure.log; exit 1; }

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Then the fuzz targets' seed corpora, replayed once under ASan + UBSan (build-fuzz, clang).
test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600
	@FUZZ_JOBS=$(JOBS) tools/fuzz replay

fuzz: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) tools/fuzz run

# The tests of those folders that were built (not the *_NOT_BUILT placeholders of the PostgreSQL
# twins, nor multi_instance_test and engine_lease_test, which need the PostgreSQL fixture, nor the
# runner's memory limit, which a TSan runner cannot have), in a ThreadSanitizer build: any data
# race fails the suite. handle_segv=0: a crashing test plugin must die of SIGSEGV, as the isolation
# tests expect, not exit through TSan's own handler.
sanitize: deps
	@mkdir -p $(TSAN_BUILD_DIR) && cmake -S . -B $(TSAN_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DREGLO_TSAN=ON > $(TSAN_BUILD_DIR)/configure.log 2>&1 \
	  || { cat $(TSAN_BUILD_DIR)/configure.log; exit 1; }
	@cmake --build $(TSAN_BUILD_DIR) -j $(JOBS) --target $(TSAN_TARGETS)
	@for suite in $(TSAN_SUITES); do \
	  (cd $(TSAN_BUILD_DIR)/tests/$$suite && \
	   TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 handle_segv=0 $$TSAN_OPTIONS" \
	   ctest --output-on-failure -j $(JOBS) --timeout 600 -E '_NOT_BUILT$$|^multi_instance_test$$|^engine_lease_test$$|AnUnboundedLeakEndsAtTheMemoryLimit$$') \
	  || exit 1; \
	done

demo: build
	@tools/demo $(BUILD_DIR)

bench: build
	@tools/bench $(BUILD_DIR)

format:
	@git ls-files '*.c' '*.h' '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	@rm -rf $(BUILD_DIR) $(BUILD_DIR).configure.log var build-fuzz $(TSAN_BUILD_DIR)
