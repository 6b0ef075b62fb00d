# Everyday commands. `make test` is what CI runs (via .ci/run).
.PHONY: run build test test-sqlite test-postgres test-browser bench

run:
	swift run interba serve

build:
	swift build

test:
	scripts/test

test-sqlite:
	scripts/test sqlite

test-postgres:
	scripts/test postgres

test-browser:
	scripts/test browser

bench:
	@if [ -x benchmarks/run ]; then benchmarks/run; else echo "no benchmarks yet: add an executable benchmarks/run"; fi
