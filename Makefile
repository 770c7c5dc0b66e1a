# The two commands of the README, as root or through sudo: `make demo` (the CDN service on the local sandbox) and
# `make test`. Both install what they need first (scripts/install-deps), into the project's virtual environment.
export OSM_L2SM_VENV ?= /opt/osm-l2sm/venv
VENV_BIN = $(OSM_L2SM_VENV)/bin

.PHONY: deps deps-k8s demo test bench
deps:
	./scripts/install-deps

# The API-server tier's binaries (--k8s) and the real-pods tier's (--node), built once and cached.
deps-k8s:
	./scripts/install-deps --k8s --node

demo: deps
	$(VENV_BIN)/osm-l2sm demo cdn

# The tests run `osm-l2sm` from PATH and `python -m osm_l2sm`: the venv's bin comes first.
test: deps-k8s
	PATH="$(VENV_BIN):$$PATH" $(VENV_BIN)/python -m pytest tests

bench: deps
	PATH="$(VENV_BIN):$$PATH" $(VENV_BIN)/python bench/dataplane
	PATH="$(VENV_BIN):$$PATH" $(VENV_BIN)/python bench/scale --quick
