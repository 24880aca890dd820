# The two commands of the README, plus their parts. Everything builds with
# CMake + Ninja into build/ (build-asan/ for the sanitizer run).
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
RUN_ARGS   ?= --config nodes/configs/demo.yaml

.PHONY: run run-cluster test test-asan setup configure build build-asan bench clean

run: configure
	cmake --build $(BUILD) -j $(JOBS) --target parleyd
	./$(BUILD)/nodes/parleyd $(RUN_ARGS)

# Three nodes and a throwaway etcd on this machine (scripts/cluster).
run-cluster: configure
	cmake --build $(BUILD) -j $(JOBS) --target parleyd parley
	./scripts/cluster $(BUILD)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# The chaos test kills nodes 20 times in `make test`; 6 here check the same
# kill and restart paths under the sanitizers in a third of the time.
test-asan: build-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 PARLEY_CHAOS_CYCLES=6 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

setup:
	./scripts/setup

configure: setup
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPARLEY_BUILD_BENCH=OFF

build: configure
	cmake --build $(BUILD) -j $(JOBS)

build-asan: setup
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPARLEY_ENABLE_SANITIZERS=ON \
	  -DPARLEY_BUILD_BENCH=OFF
	cmake --build $(ASAN_BUILD) -j $(JOBS)

bench: setup
	./scripts/bench

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-bench
