# `make chaos`: faults under load, measured (issue 12, hack/chaos). Two replicas
# of each service behind HAProxy, on a MariaDB, Redis and RabbitMQ the tool starts
# for itself on free loopback ports (the machine's shared instances are never
# touched); one fault at a time; rewrites docs/reliability.md and
# docs/img/chaos-timeline.png. Needs Debian's mariadb-server, redis-server,
# rabbitmq-server and haproxy (installed by the tool when missing and run as root).
# Pass tool flags with CHAOS_FLAGS, e.g. CHAOS_FLAGS='-rate 200 -faults kill-9,redis-stop';
# `go run ./hack/cmd/po-chaos -h` lists them.
CHAOS_FLAGS ?=

.PHONY: chaos
chaos: ## faults under load (kill -9, rolling restart, MariaDB, RabbitMQ, Redis) on private infrastructure; writes docs/reliability.md
	$(GO) run ./hack/cmd/po-chaos -command "make chaos$(if $(strip $(CHAOS_FLAGS)), CHAOS_FLAGS='$(strip $(CHAOS_FLAGS))')" $(CHAOS_FLAGS)

.PHONY: chaos-quick
chaos-quick: ## smoke run of make chaos: short windows, no report written
	$(GO) run ./hack/cmd/po-chaos -quick $(CHAOS_FLAGS)
