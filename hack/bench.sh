#!/usr/bin/env bash
# make bench: performance figures with ratios against peers measured in the
# same run (see test/bench). Prints a report; asserts no timings.
# BENCH_SIZE=10G also runs the br benchmark at that logical size (after the
# default one); 10G adds about 10 minutes on two cores, more on a busy
# machine, hence the longer timeout (BENCH_TIMEOUT overrides it).
set -euo pipefail
cd "$(dirname "$0")/.."
timeout=${BENCH_TIMEOUT:-30m}
if [ -n "${BENCH_SIZE:-}" ]; then
	timeout=${BENCH_TIMEOUT:-90m}
fi
NEBULA_BENCH=1 go test -count=1 -timeout "$timeout" -run 'Bench' -v ./test/bench/ 2>&1 | grep --line-buffered -v -E '^(=== RUN|--- PASS|PASS|ok )' || true
# S3 objects over the 5 GiB single-request limit, known and unknown size (minutes).
NEBULA_BENCH=1 go test -count=1 -timeout 30m -run '^TestS3Over5GiB$' -v ./internal/objstore/ 2>&1 | grep --line-buffered -v -E '^(=== RUN|PASS|ok )' || true
go test -run '^$' -bench 'BenchmarkAppend' -benchtime 2s ./internal/lite/wal/ | grep -E '^Benchmark' || true
