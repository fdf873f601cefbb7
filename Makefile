# fiberopt: `make run` solves the embedded sample, `make test` runs the tests.
# Both create .venv and install everything on first use (uv from PyPI).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench fuzz sample proto serve clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.9
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/fiberopt solve geodata/sample/scenario.yaml geodata/sample/shared-build.yaml --out out

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check optimizer tests geodata bench
	$(BIN)/ruff format --check optimizer tests geodata bench

format: $(STAMP)
	$(BIN)/ruff format optimizer tests geodata bench
	$(BIN)/ruff check --fix optimizer tests geodata bench

# Generated code lands where its import path says (optimizer/api/fiberopt/v1/), so its own
# imports work without rewriting: the proto path is mapped to optimizer/api.
PROTO := protos/fiberopt/v1/route_optimizer.proto
proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -Ioptimizer/api=protos --python_out=. --grpc_python_out=. \
		--pyi_out=. optimizer/api/$(PROTO:protos/%=%)

serve: $(STAMP)
	$(BIN)/fiberopt serve --port 50051 --data-root geodata --preload sample

bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/design.py
	$(BIN)/python bench/design_peers.py
	$(BIN)/python bench/planner.py
	$(BIN)/python bench/load.py --clients 32 --seconds 60

# The deep robustness run: 500 broken geodata sets through the CLI, then 10,000 adversarial
# requests (and 500 more broken sets) against a `fiberopt serve` whose memory is sampled throughout.
fuzz: $(STAMP)
	FIBEROPT_FUZZ_GEODATA=500 FIBEROPT_FUZZ_REQUESTS=2000 $(BIN)/python -m pytest -q \
		tests/test_input_fuzz.py tests/test_service_fuzz.py
	$(BIN)/python bench/fuzz.py --requests 10000 --geodata 500

sample: $(STAMP)
	$(BIN)/python geodata/make_sample.py

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
