# Quick start: `make demo` runs the main job; `make test` runs the whole suite.
# Both create their own virtual environment in .venv and install what they need.
.PHONY: demo test install check lint format coverage bench clean

demo:
	@scripts/install
	@.venv/bin/deviceflow demo

test:
	@scripts/test

install:
	@scripts/install

lint:
	@scripts/lint

format:
	@.venv/bin/ruff format src tests bench

bench:
	@scripts/install
	@.venv/bin/python -m bench --results bench/RESULTS.md

clean:
	rm -rf .venv .cache build dist .coverage* htmlcov
