# Reglo Hub — the two commands of the Quick start, and a few more.
#   make demo   install what is missing, build, sync the bundled sample school into SQLite
#   make test   install what is missing, build, run every test
#   make bench  benchmarks (not part of make test)
BUILD_DIR ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD_TYPE ?= RelWithDebInfo

.PHONY: all deps configure build test demo bench format clean

all: build

deps:
	@tools/install-deps

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) > $(BUILD_DIR).configure.log 2>&1 \
	  || { cat $(BUILD_DIR).configure.log; exit 1; }

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

demo: build
	@tools/demo $(BUILD_DIR)

bench: build
	@tools/bench $(BUILD_DIR)

format:
	@git ls-files '*.c' '*.h' '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	@rm -rf $(BUILD_DIR) $(BUILD_DIR).configure.log var
