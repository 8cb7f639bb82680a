package br

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"strings"
	"testing"

	"github.com/nebula-open/nebula-br/internal/objstore"
	"github.com/nebula-open/nebula-br/internal/objstore/miniotest"
)

// Backups that prove themselves: for each kind of object of a backup
// chain, one byte flipped and the object deleted; verify names it, a
// restore refuses before it touches the target (no service restarted,
// data unchanged). Then a chain broken by cleanup --force. Against a
// local directory and MinIO; clusters on 127.0.4.70-119.
func TestDamageIsNamedBeforeTheTargetIsTouched(t *testing.T) {
	for i, kind := range []string{"local", "s3"} {
		t.Run(kind, func(t *testing.T) {
			st, store := localStorage(t), objstore.Store(nil)
			cfg := objstore.Config{}
			if kind == "s3" {
				st = s3Storage(t)
				srv := miniotest.Shared(t)
				cfg.S3 = objstore.S3Config{AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Region: "us-east-1", Endpoint: srv.Endpoint}
			}
			store, err := objstore.Open(context.Background(), st.uri, cfg)
			if err != nil {
				t.Fatal(err)
			}
			src := up(t, fmt.Sprintf("127.0.4.%d", 70+25*i), 2, true, nil)
			s := connect(t, src)
			s.schema("g")
			s.load("g", 0, 600)
			full := backupName(t, brOK(t, st.env, st.flags("backup", "full", "--meta", src.MetaAddr())...))
			s.load("g", 600, 700)
			s.Must(`USE g; DELETE VERTEX "v5" WITH EDGE`)
			incr := backupName(t, brOK(t, st.env, st.flags("backup", "incr", "--meta", src.MetaAddr())...))

			dst := up(t, fmt.Sprintf("127.0.4.%d", 80+25*i), 2, true, nil)
			d := connect(t, dst)
			d.schema("keep")
			d.load("keep", 0, 50)
			before := d.fingerprint("keep")
			pids := servicePids(dst)

			keys := objectKeys(t, store, "")
			pick := func(match func(string) bool) string {
				for _, k := range keys {
					if match(k) {
						return k
					}
				}
				t.Fatalf("no object matches among %v", keys)
				return ""
			}
			for _, tc := range []struct{ what, key string }{
				{"meta file", pick(func(k string) bool { return strings.HasPrefix(k, incr+"/meta/") })},
				{"data SST", pick(func(k string) bool { return strings.HasPrefix(k, full+"/data/") && strings.HasSuffix(k, ".sst") })},
				{"WAL file", pick(func(k string) bool { return strings.HasPrefix(k, incr+"/data/") && strings.Contains(k, "/wal/") })},
				{".meta", incr + "/" + incr + ".meta"},
				{"manifest", incr + "/" + incr + ".manifest"},
			} {
				orig := getObject(t, store, tc.key)
				for _, action := range []string{"flip", "delete"} {
					if action == "flip" {
						b := bytes.Clone(orig)
						b[len(b)/2] ^= 0x40
						putObject(t, store, tc.key, b)
					} else if err := store.Delete(context.Background(), tc.key); err != nil {
						t.Fatal(err)
					}
					what := tc.what + " " + action
					named := path.Base(tc.key)
					r := brRun(t, st.env, st.flags("verify", "--name", incr)...)
					if r.err == nil || !strings.Contains(r.out, named) {
						t.Fatalf("%s: verify does not name %s: %v\n%s", what, tc.key, r.err, r.out)
					}
					r = brRun(t, st.env, st.flags("restore", "full", "--meta", dst.MetaAddr(), "--name", incr, "--state-dir", t.TempDir())...)
					if r.err == nil {
						t.Fatalf("%s: restore succeeded:\n%s", what, r.out)
					}
					if got := servicePids(dst); got != pids {
						t.Fatalf("%s: the restore touched the target (services %s, were %s):\n%s", what, got, pids, r.out)
					}
					if got := d.fingerprint("keep"); got != before {
						t.Fatalf("%s: target changed: %s, want %s", what, got, before)
					}
					t.Logf("%s: refused: %s", what, lastLine(r.out))
					putObject(t, store, tc.key, orig)
				}
			}
			// Intact again: verify says so, and the restore is exact.
			brOK(t, st.env, st.flags("verify", "--name", incr)...)
			brOK(t, st.env, st.flags("verify", "--name", incr, "--quick")...)
			want := s.fingerprint("g")
			brOK(t, st.env, st.flags("restore", "full", "--meta", dst.MetaAddr(), "--name", incr, "--state-dir", t.TempDir())...)
			if got := connect(t, dst).fingerprint("g"); got != want {
				t.Fatalf("restore after repair: %s, want %s", got, want)
			}

			// A chain broken on purpose: cleanup --force names what it
			// breaks, show marks it, and no incremental is built on it.
			r := brRun(t, st.env, st.flags("cleanup", "--name", full, "--force")...)
			if r.err != nil || !strings.Contains(r.out, "chains broken by --force") || !strings.Contains(r.out, incr) {
				t.Fatalf("cleanup --force of a base: %v\n%s", r.err, r.out)
			}
			show := brOK(t, st.env, st.flags("show")...)
			if !strings.Contains(show, incr+": broken chain") {
				t.Fatalf("show does not mark the broken chain:\n%s", show)
			}
			if r := brRun(t, st.env, st.flags("backup", "incr", "--meta", src.MetaAddr())...); r.err == nil {
				t.Fatalf("an incremental on a broken chain succeeded:\n%s", r.out)
			}
			if r := brRun(t, st.env, st.flags("cleanup", "--name", full)...); r.err == nil || !strings.Contains(r.out, "no backup "+full) {
				t.Fatalf("cleanup of a name that is gone: %v\n%s", r.err, r.out)
			}
		})
	}
}

// servicePids is every service's pid on c, in one string.
func servicePids(c interface {
	Running(int, string) int
}) string {
	var b strings.Builder
	for i := 0; i < 3; i++ {
		for _, role := range []string{"metad", "storaged", "graphd"} {
			fmt.Fprintf(&b, "%d ", c.Running(i, role))
		}
	}
	return b.String()
}

func objectKeys(t *testing.T, st objstore.Store, prefix string) []string {
	t.Helper()
	var out []string
	if err := st.List(context.Background(), prefix, func(oi objstore.ObjectInfo) error { out = append(out, oi.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func getObject(t *testing.T, st objstore.Store, key string) []byte {
	t.Helper()
	rc, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func putObject(t *testing.T, st objstore.Store, key string, b []byte) {
	t.Helper()
	if err := st.Put(context.Background(), key, bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
}
