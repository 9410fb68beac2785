# Thin targets: each calls a script. `make test` and `./run.sh` create .venv when missing.
SHELL := /bin/bash
.PHONY: setup test test-fast bench lint format clean

setup:
	utils/setup_env.sh

test: setup
	utils/run_tests.sh

test-fast: setup
	utils/run_tests.sh -m "not slow"

bench: setup
	utils/run_bench.sh

lint: setup
	. ./path.sh && black --check pysrc tests local && isort --check-only pysrc tests local && flake8 pysrc tests local

format: setup
	. ./path.sh && black pysrc tests local && isort pysrc tests local

clean:
	rm -rf data exp .pytest_cache
