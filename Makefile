# Quick start: `make demo` runs the main job; `make test` runs the whole suite.
# Both create their own virtual environment in .venv and install what they need: `make demo`
# only the package with its server and qr extras, `make test` the whole development toolchain.
# Afterwards `. .venv/bin/activate` puts the `deviceflow` command on your PATH.
.PHONY: demo test install check lint format coverage bench clean

demo:
	@scripts/install --demo
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
