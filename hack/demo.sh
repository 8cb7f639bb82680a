#!/usr/bin/env bash
# make demo: the main job, end to end on one machine.
#   1. a nebula-lite cluster (1 metad, 3 storaged, 1 graphd, an agent per host)
#   2. a sample graph (100k vertices, 300k edges) loaded through nGQL
#   3. br backup full; more writes; br backup incr
#   4. a second cluster; br restore of the incremental backup into it
#   5. fingerprints compared against the source at the incremental backup
# STORAGE=local (default) backs up to a directory; STORAGE=s3 to a MinIO
# server the demo starts. Exits 0 only if the restore is exact.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/bin
NL=$BIN/nebula-lite
BR=$BIN/br
ROOT=${DEMO_ROOT:-$PWD/.cache/demo}
STORAGE=${STORAGE:-local}
VERTICES=${VERTICES:-100000}
SRC_GRAPH=127.0.0.10:9669 SRC_META=127.0.0.10:9559
DST_GRAPH=127.0.0.20:9669 DST_META=127.0.0.20:9559

MINIO_PID=
cleanup() {
  "$NL" cluster down --root "$ROOT/src" >/dev/null 2>&1 || true
  "$NL" cluster down --root "$ROOT/dst" >/dev/null 2>&1 || true
  [ -n "$MINIO_PID" ] && kill "$MINIO_PID" 2>/dev/null && wait "$MINIO_PID" 2>/dev/null
  return 0
}
trap cleanup EXIT
cleanup
rm -rf "$ROOT"
mkdir -p "$ROOT"

step() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
declare -A REPORT
ORDER=()
report() { REPORT[$1]=$2; ORDER+=("$1"); }

case "$STORAGE" in
local)
  TARGET="local://$ROOT/backups"
  STORE_ARGS=(--storage "$TARGET")
  ;;
s3)
  step "start MinIO (built from source by hack/tools)"
  hack/tools/install.sh minio
  export AWS_ACCESS_KEY_ID=demo-access AWS_SECRET_ACCESS_KEY=demo-secret-$RANDOM$RANDOM
  MINIO_ROOT_USER=$AWS_ACCESS_KEY_ID MINIO_ROOT_PASSWORD=$AWS_SECRET_ACCESS_KEY MINIO_BROWSER=off \
    "$BIN/minio" server "$ROOT/minio" --address 127.0.0.1:19000 --console-address 127.0.0.1:19001 >"$ROOT/minio.log" 2>&1 &
  MINIO_PID=$!
  for _ in $(seq 100); do curl -fs http://127.0.0.1:19000/minio/health/live >/dev/null 2>&1 && break; sleep 0.1; done
  go run ./hack/mkbucket http://127.0.0.1:19000 demo
  TARGET="s3://demo/nebula"
  # Keys come from the environment: nothing secret on a command line.
  STORE_ARGS=(--storage "$TARGET" --s3.endpoint http://127.0.0.1:19000 --s3.region us-east-1)
  ;;
*) echo "STORAGE must be local or s3" >&2; exit 2 ;;
esac

step "start the source cluster: metad, graphd and 3 storaged on 127.0.0.10-12, an agent on each host"
"$NL" cluster up --root "$ROOT/src" --storaged 3 --addr-base 127.0.0.10 --agents

step "load $VERTICES vertices and $((3 * VERTICES)) edges"
"$NL" console --addr "$SRC_GRAPH" -e '
CREATE SPACE demo (partition_num = 12, replica_factor = 1, vid_type = FIXED_STRING(20));
USE demo; CREATE TAG person(name string, age int); CREATE EDGE knows(since int);' >/dev/null
gen() { # gen FROM TO: nGQL inserting persons FROM..TO-1 and 3 edges each
  awk -v from="$1" -v to="$2" -v n="$VERTICES" 'BEGIN {
    print "USE demo;"
    for (lo = from; lo < to; lo += 500) {
      v = ""; e = ""
      for (i = lo; i < lo + 500 && i < to; i++) {
        v = v (i > lo ? "," : "") sprintf("\"p%d\":(\"person %d\", %d)", i, i, 18 + i % 60)
        e = e (i > lo ? "," : "") sprintf("\"p%d\"->\"p%d\":(%d),\"p%d\"->\"p%d\"@1:(%d),\"p%d\"->\"p%d\"@2:(%d)", i, (i + 1) % n, 2000 + i % 25, i, (i * 7 + 3) % n, 1990 + i % 30, i, (i * 13 + 5) % n, 2010 + i % 10)
      }
      print "INSERT VERTEX person(name, age) VALUES " v ";"
      print "INSERT EDGE knows(since) VALUES " e ";"
    }
  }'
}
gen 0 "$VERTICES" >"$ROOT/load.ngql"
t=$(now)
"$NL" console --addr "$SRC_GRAPH" -f "$ROOT/load.ngql" >/dev/null
report "load (nGQL through graphd)" "$(since "$t")s"

step "full backup to $TARGET"
t=$(now)
FULL=$("$BR" backup full --meta "$SRC_META" "${STORE_ARGS[@]}")
report "full backup $FULL" "$(since "$t")s"

step "more writes: 1% new vertices, updates, a deletion"
extra=$((VERTICES / 100))
gen "$VERTICES" $((VERTICES + extra)) >"$ROOT/more.ngql"
echo 'INSERT VERTEX person(name, age) VALUES "p1":("renamed", 99); DELETE VERTEX "p2" WITH EDGE;' >>"$ROOT/more.ngql"
"$NL" console --addr "$SRC_GRAPH" -f "$ROOT/more.ngql" >/dev/null

step "incremental backup"
t=$(now)
INCR=$("$BR" backup incr --meta "$SRC_META" "${STORE_ARGS[@]}")
report "incremental backup $INCR" "$(since "$t")s"
SRC_PRINT=$("$NL" fingerprint --addr "$SRC_GRAPH" --space demo | awk '/^fingerprint/ {print $3}')
"$NL" console --addr "$SRC_GRAPH" -e 'USE demo; INSERT VERTEX person(name, age) VALUES "after":("written after the backup", 1)' >/dev/null

"$BR" show "${STORE_ARGS[@]}"

step "start a second cluster on 127.0.0.20-22 and restore $INCR into it"
"$NL" cluster up --root "$ROOT/dst" --storaged 3 --addr-base 127.0.0.20 --agents >/dev/null
t=$(now)
"$BR" restore full --meta "$DST_META" --name "$INCR" "${STORE_ARGS[@]}"
report "restore of $INCR (full + incremental)" "$(since "$t")s"

step "compare"
DST_PRINT=$("$NL" fingerprint --addr "$DST_GRAPH" --space demo | tee /dev/stderr | awk '/^fingerprint/ {print $3}')
"$NL" console --addr "$DST_GRAPH" -e 'USE demo; GO FROM "p1" OVER knows YIELD dst(edge) AS friend, $$.person.name AS name;
FETCH PROP ON person "p1", "after" YIELD person.name AS name'

size=$({ du -sb "$ROOT/backups" "$ROOT/minio" 2>/dev/null || true; } | awk '{s += $1} END {print s}')
printf '\n== report (storage: %s)\n' "$STORAGE"
for k in "${ORDER[@]}"; do printf '  %-52s %s\n' "$k" "${REPORT[$k]}"; done
printf '  %-52s %s\n' "stored (full + incremental)" "$(numfmt --to=iec "$size")B"
printf '  %-52s %s\n' "source fingerprint at the incremental backup" "$SRC_PRINT"
printf '  %-52s %s\n' "restored cluster fingerprint" "$DST_PRINT"
if [ "$SRC_PRINT" = "$DST_PRINT" ] && [ -n "$SRC_PRINT" ]; then
  echo "RESTORE EXACT"
else
  echo "RESTORE DIFFERS" >&2
  exit 1
fi
