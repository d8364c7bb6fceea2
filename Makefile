# Cloister: a thin wrapper over meson for the README's commands.
#   make          build (build/)
#   make run      install deps, build, start cloisterd and a local agent, print how to reach them
#   make test     install deps, build, unit + integration tests + fuzz corpus replay
#   make asan     the same tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz     libFuzzer on every harness (FUZZ_SECONDS each, default 60)
#   make bench    benchmarks: agent vs nginx, verification vs openssl, backends vs sqlite3,
#                 a monitoring sweep over 1,000 backends (results: docs/benchmarks.md)
#   make lint     clang-format check, cppcheck, banned functions
MESON ?= meson
BUILD ?= build
FUZZ_SECONDS ?= 60
SRC_DIRS = src tests fuzz bench

.PHONY: all deps run test asan fuzz bench lint format clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD) --buildtype=debugoptimized

deps:
	./scripts/install-deps

run: deps all
	./scripts/run-local $(BUILD)

test: deps all
	$(MESON) test -C $(BUILD) --print-errorlogs --num-processes 2

build-asan/build.ninja:
	$(MESON) setup build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

asan: deps build-asan/build.ninja
	ninja -C build-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(MESON) test -C build-asan --print-errorlogs --num-processes 2 --timeout-multiplier 3

build-fuzz/build.ninja:
	CC=clang-14 $(MESON) setup build-fuzz --buildtype=debug -Dfuzzing=true \
	  -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=false

fuzz: deps build-fuzz/build.ninja
	ninja -C build-fuzz fuzzers
	./scripts/run-fuzzers build-fuzz $(FUZZ_SECONDS)

bench: all
	./scripts/install-deps --bench
	./bench/run $(BUILD)
	./bench/control_plane $(BUILD)
	./bench/fleet_sweep $(BUILD)

lint:
	./scripts/lint

format:
	find src tests fuzz bench -name '*.[ch]' | xargs clang-format -i

clean:
	rm -rf $(BUILD) build-asan build-fuzz
