# The two commands a newcomer runs are `make demo` and `make test` (see README.md).
.PHONY: demo test test-unit test-e2e cluster-up cluster-down bench bench-e2e crds lint static image compare-translations

demo:
	bash e2e/demo.sh

test: test-unit test-e2e

test-unit:
	cargo test

# Uses $KUBECONFIG when it points at a cluster; otherwise starts the local control plane
# for the run and stops it afterwards.
test-e2e:
	bash e2e/run-tests.sh

cluster-up:
	bash e2e/cluster.sh up

cluster-down:
	bash e2e/cluster.sh down

bench:
	cargo bench --bench translate

# Every translation the tests make, recorded at BASE (default origin/main) and at the work tree,
# compared byte for byte: a refactoring shows here that it changed no output.
BASE ?=
compare-translations:
	bash e2e/compare-translations.sh $(BASE)

# The scale run on the real cluster (operator beside plain kubectl); figures in docs/performance.md.
# SCALE_STACKS stacks of SCALE_SERVICES services, three copies at once (kubectl, operator without
# and with depends_on), one pod each: the cluster gets kwok nodes and volumes to fit them
# (volumes for every round: a deleted claim leaves its volume Released until the next up).
# Also SCALE_STEADY_SECONDS and SCALE_DEADLINE_SECONDS (each wait) from the environment.
SCALE_STACKS ?= 200
SCALE_SERVICES ?= 5
SCALE_ROUNDS ?= 2
# 0: skip the operator run without depends_on (two copies instead of three).
SCALE_UNORDERED ?= 1
SCALE_COPIES = $(if $(filter 0,$(SCALE_UNORDERED)),2,3)
bench-e2e:
	COMPOSE_OPERATOR_CLUSTER_NODES=$$(( $(SCALE_COPIES) * $(SCALE_STACKS) * $(SCALE_SERVICES) / 100 + 3 )) \
	COMPOSE_OPERATOR_CLUSTER_PVS=$$(( $(SCALE_COPIES) * $(SCALE_STACKS) * $(SCALE_ROUNDS) + 10 )) \
	SCALE_STACKS=$(SCALE_STACKS) SCALE_SERVICES=$(SCALE_SERVICES) SCALE_ROUNDS=$(SCALE_ROUNDS) SCALE_UNORDERED=$(SCALE_UNORDERED) E2E_THREADS=1 \
	bash e2e/run-tests.sh --ignored --nocapture scale

crds:
	cargo run -q -- crd > crds/composestack.yaml
	cp crds/composestack.yaml charts/compose-operator/crds/composestack.yaml

# The static musl binary the container image ships (Dockerfile); no Docker engine needed.
static:
	bash e2e/static-build.sh

# The operator's OCI image (the Dockerfile's contents) from that binary, with crane, no engine:
# target/oci/compose-operator (OCI layout) and target/oci/compose-operator.tar; reproducible.
image:
	bash e2e/image.sh operator

lint:
	cargo fmt --check
	cargo clippy --all-targets --features e2e -- -D warnings
	"$$(bash e2e/build-tools.sh --group release | tail -n1)/actionlint" .github/workflows/*.yml
