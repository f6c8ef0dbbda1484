# `make bench`: the cache experiment of issues 6 and 13, and the group leaderboards
# of issue 15 (hack/bench). It builds the services, runs them against dedicated
# databases (po_bench_*) on their own ports, seeds, attacks (vegeta at a fixed
# rate; wrk, Debian's package, installed when missing, for the closed loop), prints
# the tables and rewrites docs/benchmarks.md and docs/img/bench-*.png. Pass tool
# flags with BENCH_FLAGS, e.g.
#   make bench BENCH_FLAGS='-rate 2000 -phases cached,search'
#   make bench BENCH_FLAGS='-target http://127.0.0.1:3001 -account-url http://127.0.0.1:3000'
# `go run ./hack/bench/cmd/bench -h` lists every flag.
BENCH_FLAGS ?=

.PHONY: bench
bench: deps ## load-test the hot read (cache off/on, ceilings, mixed, replicas, group leaderboards, pairs, max throughput); writes docs/benchmarks.md
	$(GO) run ./hack/bench/cmd/bench -command "make bench$(if $(strip $(BENCH_FLAGS)), BENCH_FLAGS='$(strip $(BENCH_FLAGS))')" $(BENCH_FLAGS)

.PHONY: bench-quick
bench-quick: deps ## smoke run of make bench: a few seconds per phase, small data set, no report written
	$(GO) run ./hack/bench/cmd/bench -quick $(BENCH_FLAGS)
