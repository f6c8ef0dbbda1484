# Deploy side (issue 5): the Helm chart, the kind dev cluster, Tilt.
#
#   make up / make down   kind cluster "po" with the whole system (needs Docker)
#   make chart-test       fast Go tests of the chart, dashboards, cluster tool (part of make test)
#   make helm-lint        helm lint --strict with the pinned helm
#   make cluster-test     slow: the chart installed into a real kube-apiserver + etcd, and the
#                         Tiltfile evaluated by a real Tilt; builds those tools on first use
#
# The tools are built from the Go module proxy (nothing else is needed but Go) into
# $(PO_TOOLS_DIR)/<tool>-<version>/ outside the clone, once per version. etcd,
# kube-apiserver and Tilt cannot be `go install`ed (replace directives); their
# wrapper modules under hack/tools/ pin them, with checksums.
GO ?= go
PO_TOOLS_DIR ?= $(HOME)/.cache/po-tools
HELM_VERSION := v3.22.0
ETCD_VERSION := v3.5.24
KUBERNETES_VERSION := v1.32.13
COREDNS_VERSION := v1.11.3
LOCAL_PATH_PROVISIONER_VERSION := v0.0.30
TILT_VERSION := v0.33.21
KIND_VERSION := v0.33.0

HELM := $(PO_TOOLS_DIR)/helm-$(HELM_VERSION)/helm
ETCD := $(PO_TOOLS_DIR)/etcd-$(ETCD_VERSION)/etcd
# Every Kubernetes binary of one release, built together (they share most packages).
KUBERNETES_DIR := $(PO_TOOLS_DIR)/kubernetes-$(KUBERNETES_VERSION)
KUBERNETES_CMDS := kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubeadm kubectl
KUBE_APISERVER := $(KUBERNETES_DIR)/kube-apiserver
COREDNS := $(PO_TOOLS_DIR)/coredns-$(COREDNS_VERSION)/coredns
LOCAL_PATH_PROVISIONER := $(PO_TOOLS_DIR)/local-path-provisioner-$(LOCAL_PATH_PROVISIONER_VERSION)/local-path-provisioner
# Built from a copy of Tilt's module with a stub web UI page: the module holds no
# built JS/CSS (Tilt's release builds add them with yarn), and without any `tilt ci`
# and `tilt up` refuse to start ("running in prod mode, but JS/CSS files are not
# available"). The UI shows the stub; `tilt get`, `tilt logs` and the CLI work.
TILT := $(PO_TOOLS_DIR)/tilt-$(TILT_VERSION)-stubui/tilt
# The kind CLI: Tilt runs `kind load` to put its images into the cluster (make up
# uses kind as a library).
KIND := $(PO_TOOLS_DIR)/kind-$(KIND_VERSION)/kind
KUBECTL := $(KUBERNETES_DIR)/kubectl

CHART_DIR := charts/progressive-overload
CHART_TEST_PKGS := ./hack/chartkit/... ./hack/cluster/... ./hack/devsecrets/... ./hack/dockercheck/... ./hack/tiltcheck/...
CHART_TEST_FLAGS ?= -count=1
CLUSTER_TEST_TIMEOUT ?= 20m
# Flags for `po-cluster up` (and down), e.g. UP_FLAGS='-build=false' (see go run ./hack/cmd/po-cluster up -h).
UP_FLAGS ?=

# $(call check-pin,<wrapper go.mod>,<module>,<version>): the wrapper module must
# require exactly the version the cache directory is named after.
define check-pin
	@grep -qE '^require $(2) $(3)$$|^[[:space:]]$(2) $(3)$$' $(1) || { \
	  echo "$(1) does not require $(2) $(3): update the variable or the wrapper module together" >&2; exit 1; }
endef

# KIND_IMAGES=offline: no registry is reachable (as on our CI machines), so every
# image is built here (hack/offline) from the tools below; upstream: pulled as usual.
KIND_IMAGES ?= upstream
OFFLINE_TOOLS := $(KUBERNETES_DIR)/.built $(ETCD) $(COREDNS) $(LOCAL_PATH_PROVISIONER)
UP_DEPS := $(if $(filter offline,$(KIND_IMAGES)),$(OFFLINE_TOOLS))
UP_OFFLINE := $(if $(filter offline,$(KIND_IMAGES)),-offline)

.PHONY: up
up: $(UP_DEPS) ## kind cluster "po" + images + helm upgrade --install (idempotent; starts a Docker engine if none answers; KIND_IMAGES=offline builds every image here)
	$(GO) run ./hack/cmd/po-cluster up $(UP_OFFLINE) $(UP_FLAGS)

.PHONY: down
down: ## delete the kind cluster "po" and stop the Docker engine if `make up` started it
	$(GO) run ./hack/cmd/po-cluster down $(UP_FLAGS)

# make kind-test: the whole deploy path on a kind cluster of its own (hack/kindtest):
# make up, every pod Ready, the README walk-through through kubectl port-forward,
# Prometheus answering every dashboard query, an idempotent second make up, pod
# kills, a helm upgrade under load, tilt ci and a live update, then make down.
# KIND_TEST_IMAGES=upstream pulls the real images instead (a networked machine).
KIND_TEST_IMAGES ?= offline
KIND_TEST_TIMEOUT ?= 45m
# The run's kubeconfig, logs (make.log, tilt.log, the test's own) and secrets, kept
# for a look after a failure; emptied at the start of the next run.
KIND_TEST_DIR ?= $(PO_TOOLS_DIR)/kind-test
KIND_TEST_DEPS := $(KUBECTL) $(HELM) $(TILT) $(KIND) $(if $(filter offline,$(KIND_TEST_IMAGES)),$(OFFLINE_TOOLS))

.PHONY: kind-test
kind-test: $(KIND_TEST_DEPS) ## slow: the deploy path on a real kind cluster (make up, walk-through, faults, upgrade under load, tilt), then make down
	rm -rf $(KIND_TEST_DIR) && mkdir -p $(KIND_TEST_DIR)
	cd hack && KIND_TEST_DIR=$(KIND_TEST_DIR) KIND_IMAGES=$(KIND_TEST_IMAGES) PO_KUBECTL=$(KUBECTL) PO_TILT=$(TILT) PO_TOOL_PATH=$(dir $(HELM)):$(dir $(KIND)) \
	  $(GO) test -tags kind -count=1 -v -timeout $(KIND_TEST_TIMEOUT) ./kindtest/ 2>&1 | tee $(KIND_TEST_DIR)/test.log | grep -E '^(=== RUN|--- |\s+\S+_test\.go:|PASS|FAIL|ok )'; exit $${PIPESTATUS[0]}

.PHONY: offline-images
offline-images: $(OFFLINE_TOOLS) ## build (or find current) every image of an offline kind cluster (hack/offline)
	$(GO) run ./hack/cmd/po-cluster images

.PHONY: chart-test
chart-test: ## fast Go tests: chart render + strict decoding + invariants, schema, lint, dashboards, cluster tool
	$(GO) test $(CHART_TEST_FLAGS) $(CHART_TEST_PKGS)

.PHONY: helm-lint
helm-lint: $(HELM) ## helm lint --strict (defaults and the kind values)
	$(HELM) lint --strict $(CHART_DIR)
	$(HELM) lint --strict $(CHART_DIR) -f k8s/values-kind.yaml

.PHONY: cluster-test
cluster-test: helm-lint $(ETCD) $(KUBE_APISERVER) $(TILT) ## slow: install into a real kube-apiserver, evaluate the Tiltfile
	cd hack && PO_HELM=$(HELM) PO_ETCD=$(ETCD) PO_KUBE_APISERVER=$(KUBE_APISERVER) PO_TILT=$(TILT) \
	  $(GO) test -tags cluster -count=1 -timeout $(CLUSTER_TEST_TIMEOUT) ./clustertest/...

.PHONY: cluster-tools
cluster-tools: $(HELM) $(ETCD) $(KUBE_APISERVER) $(TILT) $(KIND) ## build (or find cached) helm, etcd, kube-apiserver, tilt, kind, kubectl; prints the PATH to use them
	@echo 'export PATH=$(dir $(TILT)):$(dir $(HELM)):$(dir $(KIND)):$(KUBERNETES_DIR):$$PATH'

# Each tool is built into a temporary name and moved into place, so an
# interrupted build never leaves a broken binary that make would trust. The
# version in the path is the cache key (the wrapper go.mod files are order-only
# prerequisites: a fresh clone's newer mtimes must not trigger a rebuild).
$(HELM):
	@mkdir -p $(@D)/.gobin
	GOWORK=off GOFLAGS= GOBIN=$(@D)/.gobin $(GO) install -trimpath helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	mv $(@D)/.gobin/helm $@ && rmdir $(@D)/.gobin

$(ETCD): | hack/tools/etcd/go.mod
	$(call check-pin,hack/tools/etcd/go.mod,go.etcd.io/etcd/server/v3,$(ETCD_VERSION))
	@mkdir -p $(@D)
	cd hack/tools/etcd && CGO_ENABLED=0 GOWORK=off GOFLAGS=-mod=readonly $(GO) build -trimpath -ldflags "-s -w" -o $@.tmp go.etcd.io/etcd/server/v3
	mv $@.tmp $@

# Static (CGO_ENABLED=0): the node image runs the control plane FROM scratch. The
# version ldflags are what `kubectl version` and kubeadm's preflight read.
KUBE_LDFLAGS = -s -w $(foreach p,k8s.io/component-base/version k8s.io/client-go/pkg/version,\
  -X $(p).gitVersion=$(KUBERNETES_VERSION) -X $(p).gitTreeState=clean \
  -X $(p).gitMajor=$(word 1,$(subst ., ,$(patsubst v%,%,$(KUBERNETES_VERSION)))) \
  -X $(p).gitMinor=$(word 2,$(subst ., ,$(KUBERNETES_VERSION))))

$(KUBERNETES_DIR)/.built: | hack/tools/kubernetes/go.mod
	$(call check-pin,hack/tools/kubernetes/go.mod,k8s.io/kubernetes,$(KUBERNETES_VERSION))
	@rm -rf $(KUBERNETES_DIR).tmp && mkdir -p $(KUBERNETES_DIR).tmp
	cd hack/tools/kubernetes && CGO_ENABLED=0 GOWORK=off GOFLAGS=-mod=readonly $(GO) build -trimpath \
	  -ldflags "$(KUBE_LDFLAGS)" -o $(KUBERNETES_DIR).tmp/ $(addprefix k8s.io/kubernetes/cmd/,$(KUBERNETES_CMDS))
	touch $(KUBERNETES_DIR).tmp/.built
	rm -rf $(KUBERNETES_DIR) && mv $(KUBERNETES_DIR).tmp $(KUBERNETES_DIR)

$(KUBE_APISERVER): $(KUBERNETES_DIR)/.built

$(COREDNS): | hack/tools/coredns/go.mod
	$(call check-pin,hack/tools/coredns/go.mod,github.com/coredns/coredns,$(COREDNS_VERSION))
	@mkdir -p $(@D)
	cd hack/tools/coredns && CGO_ENABLED=0 GOWORK=off GOFLAGS=-mod=readonly $(GO) build -trimpath -ldflags "-s -w" -o $@.tmp github.com/coredns/coredns
	mv $@.tmp $@

$(KUBECTL): $(KUBERNETES_DIR)/.built

$(KIND):
	@mkdir -p $(@D)/.gobin
	GOWORK=off GOFLAGS= GOBIN=$(@D)/.gobin CGO_ENABLED=0 $(GO) install -trimpath sigs.k8s.io/kind@$(KIND_VERSION)
	mv $(@D)/.gobin/kind $@ && rmdir $(@D)/.gobin

$(TILT): | hack/tools/tilt/go.mod
	$(call check-pin,hack/tools/tilt/go.mod,github.com/tilt-dev/tilt,$(TILT_VERSION))
	@rm -rf $(@D).src && mkdir -p $(@D) $(@D).src/wrapper
	cd hack/tools/tilt && GOWORK=off GOFLAGS=-mod=readonly $(GO) mod download github.com/tilt-dev/tilt
	cp -r "$$(cd hack/tools/tilt && GOWORK=off $(GO) list -m -f '{{.Dir}}' github.com/tilt-dev/tilt)" $(@D).src/tilt
	chmod -R u+w $(@D).src/tilt
	printf '<!doctype html><title>Tilt</title><p>This Tilt was built without its web UI (make cluster-tools): use <code>tilt get</code>, <code>tilt logs</code> and <code>tilt describe</code>.</p>\n' > $(@D).src/tilt/pkg/assets/build/index.html
	cp hack/tools/tilt/go.mod hack/tools/tilt/go.sum hack/tools/tilt/tools.go $(@D).src/wrapper/
	cd $(@D).src/wrapper && GOWORK=off $(GO) mod edit -replace github.com/tilt-dev/tilt=../tilt && \
	  GOWORK=off GOFLAGS=-mod=mod $(GO) build -trimpath -o $@.tmp github.com/tilt-dev/tilt/cmd/tilt
	mv $@.tmp $@ && rm -rf $(@D).src

$(LOCAL_PATH_PROVISIONER): | hack/tools/local-path-provisioner/go.mod
	$(call check-pin,hack/tools/local-path-provisioner/go.mod,github.com/rancher/local-path-provisioner,$(LOCAL_PATH_PROVISIONER_VERSION))
	@mkdir -p $(@D)
	cd hack/tools/local-path-provisioner && CGO_ENABLED=0 GOWORK=off GOFLAGS=-mod=readonly $(GO) build -trimpath -ldflags "-s -w" -o $@.tmp github.com/rancher/local-path-provisioner
	mv $@.tmp $@
