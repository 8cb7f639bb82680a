#!/usr/bin/env bash
# hack/e2e/run.sh (make e2e): build.sh, up.sh, the suite (go test -tags e2e
# ./test/e2e/ -v), then down.sh whatever happened; exits with the suite's
# status (or 1 if the host could not be restored). Prints the time of each
# phase, the cluster's peak memory and the total.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
GO=${GO:-go}
need_root
T0=$(date +%s)
phase() { echo "e2e $(date +%T) ===== $*"; }

phase build
"$E2E_HERE/build.sh" || exit 1
TB=$(date +%s)
phase up
rc=0
if "$E2E_HERE/up.sh"; then
	TU=$(date +%s)
	phase "suite (go test -tags e2e ./test/e2e/)"
	# Memory of the cluster (control plane + pods), sampled while the suite runs.
	rm -f "$L/operator-hwm-kb"
	(
		peak=0
		while sleep 5; do
			kb=0
			for p in /proc/[0-9]*; do
				exe=$(readlink "$p/exe" 2>/dev/null) || continue
				case "$exe" in "$EB"/* | "$C"/*) ;; "$B"/*) tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q "$C" || continue ;; *) grep -q kubepods "$p/cgroup" 2>/dev/null || continue ;; esac
				kb=$((kb + $(awk '/^VmRSS/ {print $2}' "$p/status" 2>/dev/null || echo 0)))
			done
			[ $kb -gt $peak ] && peak=$kb && echo $peak >"$L/peak-rss-kb"
			# The operator's own peak (VmHWM), for make bench's memory table.
			for p in $(pgrep -x nebula-operator || true); do
				hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
				[ "${hwm:-0}" -gt "$(cat "$L/operator-hwm-kb" 2>/dev/null || echo 0)" ] && echo "$hwm" >"$L/operator-hwm-kb"
			done
		done
	) &
	sampler=$!
	(cd "$ROOT" && $GO test -tags e2e -count=1 -timeout 45m -v ./test/e2e/) 2>&1 | tee "$L/suite.log"
	rc=${PIPESTATUS[0]}
	kill "$sampler" 2>/dev/null
	wait "$sampler" 2>/dev/null
	TS=$(date +%s)
else
	rc=1
	TU=$(date +%s) TS=$TU
fi
phase down
"$E2E_HERE/down.sh" || { [ $rc -eq 0 ] && rc=1; }
TD=$(date +%s)
echo "e2e timings: build $((TB - T0))s, up $((TU - TB))s (node Ready after $(cat "$L/node-ready-seconds" 2>/dev/null || echo '?')s), suite $((TS - TU))s, down $((TD - TS))s, total $((TD - T0))s; cluster peak RSS $(($(cat "$L/peak-rss-kb" 2>/dev/null || echo 0) / 1024)) MiB, operator peak RSS $(($(cat "$L/operator-hwm-kb" 2>/dev/null || echo 0) / 1024)) MiB; exit $rc"
exit $rc
