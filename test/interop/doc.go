// Package interop cross-checks our build against upstream NebulaGraph tools
// (nebula-go, nebula-console, nebula-agent, nebula-br). It is outside `make
// test` (build tag interop); `make interop` runs it. The checks only run
// binaries, ours and upstream's, so the package imports nothing of ours.
//
// The upstream binaries are not built here: this repository keeps no
// recipe that builds upstream's code. Put them in INTEROP_BIN, named by
// tool and tag: nebula-console@v3.8.0, nebula-console@v3.3.1,
// nebula-agent@v3.7.1 (its agent), nebula-br@v3.6.0 (its br), and
// goclient@v3.8.0, goclient@v3.4.0, goclient@v3.3.1: a small program on
// that nebula-go version, run as `goclient@vX -addr GRAPHD -retry 20s
// STATEMENT...`, which opens one session (user root, password nebula) and
// prints one JSON line per statement, {"ok", "code", "error", "rows"}, each
// row a list of values rendered as type:value (string:"b", int:30,
// map:{...}). A missing binary makes its checks FAIL, naming it.
//
// Only the _test files carry the tag: without it this package is empty and
// `go test ./...` passes over it.
//
// Environment:
//
//	INTEROP_BIN      upstream binaries (default <repo>/.cache/interop/bin)
//	INTEROP_OUR_BIN  our binaries (default <repo>/bin)
//	INTEROP_WORK     scratch directory (default: a new temporary directory,
//	                 removed at the end unless INTEROP_KEEP=1)
//	INTEROP_RESULTS  append one "check<TAB>ID<TAB>STATUS<TAB>reason" line per check
//	INTEROP_ONLY     comma-separated check groups to run (1, 2, 3, 4)
//	INTEROP_TAIL     lines of output quoted for a failure (default 15)
//
// Every cluster lives on 127.0.6.0-127.0.6.199, each address checked free
// first; every process started is stopped by pid at the end, failure or not.
package interop
