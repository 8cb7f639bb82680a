#!/usr/bin/env bash
# make demo: a local nebula-lite cluster (1 metad, 3 storaged, 1 graphd on
# 127.0.0.10-12), a sample graph loaded through nGQL, queries, and the
# space's fingerprint. Backups and a restore join when br lands.
set -euo pipefail
cd "$(dirname "$0")/.."
NL=bin/nebula-lite
ROOT=${DEMO_ROOT:-$PWD/.cache/demo}
VERTICES=${VERTICES:-20000}
GRAPH=127.0.0.10:9669

cleanup() { "$NL" cluster down --root "$ROOT" >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup
rm -rf "$ROOT"

step() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }

step "start a cluster: 1 metad, 3 storaged, 1 graphd"
"$NL" cluster up --root "$ROOT" --storaged 3

step "create the schema"
"$NL" console --addr "$GRAPH" -e '
CREATE SPACE demo (partition_num = 12, replica_factor = 1, vid_type = FIXED_STRING(20));
USE demo;
CREATE TAG person(name string, age int);
CREATE EDGE knows(since int);'

step "load $VERTICES vertices and $((3 * VERTICES)) edges"
gen="$ROOT/load.ngql"
awk -v n="$VERTICES" 'BEGIN {
  print "USE demo;"
  for (lo = 0; lo < n; lo += 500) {
    v = ""; e = ""
    for (i = lo; i < lo + 500 && i < n; i++) {
      v = v (i > lo ? "," : "") sprintf("\"p%d\":(\"person %d\", %d)", i, i, 18 + i % 60)
      e = e (i > lo ? "," : "") sprintf("\"p%d\"->\"p%d\":(%d),\"p%d\"->\"p%d\":(%d),\"p%d\"->\"p%d\"@1:(%d)", i, (i + 1) % n, 2000 + i % 25, i, (i * 7 + 3) % n, 1990 + i % 30, i, (i * 13 + 5) % n, 2010 + i % 10)
    }
    print "INSERT VERTEX person(name, age) VALUES " v ";"
    print "INSERT EDGE knows(since) VALUES " e ";"
  }
}' > "$gen"
t0=$(now)
"$NL" console --addr "$GRAPH" -f "$gen" >/dev/null
t1=$(now)
awk -v a="$t0" -v b="$t1" -v n="$VERTICES" 'BEGIN { printf "loaded in %.1fs (%.0f vertices+edges/s)\n", b - a, 4 * n / (b - a) }'

step "query"
"$NL" console --addr "$GRAPH" -e '
USE demo;
FETCH PROP ON person "p1", "p2" YIELD person.name AS name, person.age AS age;
GO FROM "p1" OVER knows YIELD dst(edge) AS friend, knows.since AS since, $$.person.name AS name;
GO 2 STEPS FROM "p1" OVER knows YIELD DISTINCT dst(edge) AS fof;
SHOW HOSTS;'

step "fingerprint"
"$NL" fingerprint --addr "$GRAPH" --space demo

step "done: the cluster stops now"
