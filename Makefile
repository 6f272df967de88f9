# Thin wrapper so the README's commands stay short.
BUILD ?= build
JOBS  ?= $(shell nproc)
CUDA  ?= AUTO

.PHONY: deps configure build test demo demo-color data bench clean

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

bench: build
	@$(BUILD)/bench_ops

clean:
	rm -rf $(BUILD)
