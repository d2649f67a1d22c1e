# The two set-up commands of the README:
#   make demo   install what is missing, build, run the showcase
#   make test   install what is missing, build three times (release, ASan+UBSan, TSan) and
#               run every test (the TSan build runs the tests labelled tsan: the threaded ones),
#               then build the libFuzzer targets (clang-14) and run each for FUZZ_TIME seconds
# Other targets: make build, make bench, make tsan, make test-fuzz, make format, make clean.

JOBS ?= $(shell nproc)

# Debian packages the build and the tests need.
DEPS := build-essential cmake pkg-config libssl-dev openssl
# The web server: llhttp's C sources, jansson (JSON), wslay (WebSocket framing).
DEPS += node-llhttp libjansson-dev libwslay-dev
# Everything the tests use beyond DEPS: add a package here when a test needs it
# (pkg-config and binutils' readelf: the install test, tests/install/run.sh;
# python3 and chromium also draw and check the SVG timeline of tests/trace).
TEST_DEPS := pkg-config binutils
# The server's tests use real clients and a real browser.
TEST_DEPS += curl wrk python3 python3-requests python3-websockets chromium
# The fuzz build: clang-14 (Debian's `clang`) and its libFuzzer/sanitizer runtimes.
FUZZ_DEPS := clang clang-14 libclang-rt-14-dev
# Seconds each fuzz target runs in `make test` (they run two at a time).
FUZZ_TIME ?= 15
# concur::mpi (CONCUR_MPI) and its tests under mpirun, two hosts as network namespaces.
DEPS += openmpi-bin libopenmpi-dev iproute2
# The HTTP client (libcurl) and its tests (a private nginx, brotli for br bodies).
DEPS += libcurl4-openssl-dev nginx-light brotli zlib1g-dev libbrotli-dev libzstd-dev
# The html layer: myhtml/modest (parser), libcurl (URL resolution); its tests
# read the Python documentation.
DEPS += libmodest-dev libcurl4-openssl-dev python3-doc
# The demo's data-mining part reads the Python documentation.
DEMO_DEPS := python3-doc python3
# Peers the benchmarks compare against (installed by `make bench` only).
BENCH_DEPS := golang-go python3 python3-uvloop
# The MPI benchmarks' peer (mpi4py.futures).
BENCH_DEPS += python3-mpi4py
# The echo limit reference's io_uring server (bench/peers/echo_ref.c, optional).
BENCH_DEPS += liburing-dev
BENCH_DEPS += curl wrk python3-aiohttp
# W6 (bench/w6_http_server): the load generator and the web server peers.
BENCH_DEPS += wrk nginx-light h2o python3-aiohttp python3-tornado
# W8's peers: Go's x/net/html, libxml2 and gumbo (C), lxml and BeautifulSoup.
BENCH_DEPS += golang-golang-x-net-dev libxml2-dev libgumbo-dev python3-lxml python3-bs4

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

define ensure_pkgs
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

.PHONY: deps test-deps fuzz-deps demo-deps bench-deps build release asan tsan fuzz test test-release test-asan test-tsan test-fuzz test-aarch64 demo bench format clean

deps:
	$(call ensure_pkgs,$(DEPS))

test-deps: deps
	$(call ensure_pkgs,$(TEST_DEPS))

fuzz-deps: deps
	$(call ensure_pkgs,$(FUZZ_DEPS))

demo-deps: deps
	$(call ensure_pkgs,$(DEMO_DEPS))

bench-deps: deps
	$(call ensure_pkgs,$(BENCH_DEPS))

release: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)
	@ln -sf build/release/compile_commands.json compile_commands.json

build: release

asan: deps
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS)

tsan: deps
	cmake --preset tsan >/dev/null
	cmake --build --preset tsan -j $(JOBS)

fuzz: fuzz-deps
	cmake --preset fuzz -DCC_FUZZ_TIME=$(FUZZ_TIME) >/dev/null
	cmake --build --preset fuzz -j $(JOBS)

test-release: test-deps release
	ctest --preset release

test-asan: test-deps asan
	ctest --preset asan

test-tsan: test-deps tsan
	ctest --preset tsan -L tsan

test-fuzz: fuzz
	ctest --preset fuzz

# In this order: release, ASan, TSan, fuzz (run `make test`, not `make -j test`:
# the builds use $(JOBS) cores each already).
test: test-release test-asan test-tsan test-fuzz

demo: demo-deps release
	./build/release/tools/concur demo

# WORKLOADS.md names build/bench/ as the place of the workload programs.
bench: bench-deps release
	@ln -sfn release/bench build/bench
	./bench/run

# The aarch64 context switch, cross-built and run under qemu-user.
test-aarch64: deps
	$(call ensure_pkgs,gcc-aarch64-linux-gnu qemu-user)
	cmake -S . -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
	  -DCMAKE_BUILD_TYPE=Debug -DCONCUR_BUILD_BENCH=OFF -DCONCUR_SKIP_LAYERS=net >/dev/null
	cmake --build build/aarch64 -j $(JOBS)
	cd build/aarch64 && ctest -j $(JOBS) --output-on-failure -L "task|group|sync|loop|coro"

format:
	$(call ensure_pkgs,clang-format)
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build compile_commands.json
