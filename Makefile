# Thin wrapper so the README's commands stay short.
BUILD ?= build
JOBS  ?= $(shell nproc)
CUDA  ?= AUTO

.PHONY: deps configure build test demo demo-color data bench pretrain sanitize fuzz clean

deps:
	@scripts/deps.sh

data:
	@scripts/fetch-data.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DSTEADY_CUDA=$(CUDA) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

demo: build
	@BUILD=$(BUILD) scripts/demo.sh

demo-color: build data
	@BUILD=$(BUILD) scripts/demo-color.sh

# The shipped baselines (pretrained/) trained again from nothing and compared by sha256.
pretrain: build data
	@BUILD=$(BUILD) scripts/pretrain.sh

bench: build
	@$(BUILD)/bench_ops

# The CPU suite under AddressSanitizer + UBSan (-fno-sanitize-recover): build-asan/, about 4x
# slower than the plain suite.
sanitize: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTEADY_CUDA=OFF \
	  -DSTEADY_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

# libFuzzer harnesses (tests/fuzz/) built with clang into build-fuzz/, each run FUZZ_SECONDS
# (default 60) on a corpus seeded by our own writers; scripts/fuzz.sh prints executions,
# coverage and findings per harness.
FUZZ_SECONDS ?= 60
fuzz:
	@scripts/deps.sh clang
	@scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD)
