#!/usr/bin/env bash
# make bench: performance figures with ratios against peers measured in the
# same run (see test/bench). Prints a report; asserts no timings.
set -euo pipefail
cd "$(dirname "$0")/.."
NEBULA_BENCH=1 go test -count=1 -timeout 30m -run 'Bench' -v ./test/bench/ 2>&1 | grep -v -E '^(=== RUN|--- PASS|PASS|ok )' || true
# S3 objects over the 5 GiB single-request limit, known and unknown size (minutes).
NEBULA_BENCH=1 go test -count=1 -timeout 30m -run '^TestS3Over5GiB$' -v ./internal/objstore/ 2>&1 | grep -v -E '^(=== RUN|PASS|ok )' || true
go test -run '^$' -bench 'BenchmarkAppend' -benchtime 2s ./internal/lite/wal/ | grep -E '^Benchmark' || true
