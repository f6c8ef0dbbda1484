# The chart's alerts (charts/progressive-overload/rules/alerts.yaml, runbooks in
# docs/operations.md), checked by promtool: the rule file's syntax and
# hack/rules/alerts_test.yaml, a firing and a quiet series per alert. promtool is
# built from the Go module proxy into the tool cache (hack/tools/promtool).
PROMTOOL_VERSION := v0.305.0
PROMTOOL := $(PO_TOOLS_DIR)/promtool-$(PROMTOOL_VERSION)/promtool

.PHONY: rules-test
rules-test: $(PROMTOOL) ## promtool check rules and promtool test rules on the chart's alerts
	$(PROMTOOL) check rules charts/progressive-overload/rules/alerts.yaml
	cd hack/rules && $(PROMTOOL) test rules alerts_test.yaml

$(PROMTOOL): | hack/tools/promtool/go.mod
	$(call check-pin,hack/tools/promtool/go.mod,github.com/prometheus/prometheus,$(PROMTOOL_VERSION))
	@mkdir -p $(@D)
	cd hack/tools/promtool && CGO_ENABLED=0 GOWORK=off GOFLAGS=-mod=readonly $(GO) build -trimpath -ldflags "-s -w" -o $@.tmp github.com/prometheus/prometheus/cmd/promtool
	mv $@.tmp $@
