# The two commands of the README: `sudo make demo` (the CDN service on the local sandbox) and `sudo make test`.
PYTHON ?= python3

.PHONY: deps deps-k8s demo test bench
deps:
	./scripts/install-deps

deps-k8s:
	./scripts/install-deps --k8s

demo: deps
	osm-l2sm demo cdn

test: deps-k8s
	$(PYTHON) -m pytest tests

bench: deps
	$(PYTHON) bench/dataplane
	$(PYTHON) bench/scale --quick
