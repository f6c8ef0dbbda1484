# make fresh-test: the README's quick start on a fresh machine (hack/freshtest).
# A Debian bookworm container built here from the distribution's packages (the
# debootstrapped debian:bookworm-slim of hack/offline) with only the README's
# prerequisites: no Go module cache, no MariaDB, Redis or RabbitMQ. A clean clone
# of HEAD goes in; the README's own commands run there: `make test`, then `make
# run` in the background, the walk-through against it (its stated output
# checked), Ctrl-C. Needs a Docker engine (started, as for make up, where none
# answers: hack/dockerengine); the container is removed afterwards, whatever
# happened. Then make deps's Docker path on that engine (TestDockerPath: the
# stand-in images, free loopback ports, containers of its own prefix, removed).
# Logs stay in FRESH_TEST_DIR until the next run.
FRESH_TEST_TIMEOUT ?= 60m
FRESH_TEST_DIR ?= $(PO_TOOLS_DIR)/fresh-test

.PHONY: fresh-test
fresh-test: ## slow: make test, make run and the walk-through, as the README says, on a fresh Debian container; make deps's Docker path
	rm -rf $(FRESH_TEST_DIR) && mkdir -p $(FRESH_TEST_DIR)
	cd hack && FRESH_TEST_DIR=$(FRESH_TEST_DIR) $(GO) test -tags fresh -count=1 -v -timeout $(FRESH_TEST_TIMEOUT) ./freshtest/ 2>&1 \
	  | tee $(FRESH_TEST_DIR)/test.log | grep --line-buffered -E '^(=== RUN|--- |\s+\S+_test\.go:|PASS|FAIL|ok )'; exit $${PIPESTATUS[0]}
