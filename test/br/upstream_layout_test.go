package br

import (
	"context"
	"encoding/binary"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/nebula-open/nebula-br/internal/lite/cluster"
	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/objstore"
	"github.com/nebula-open/nebula-br/internal/objstore/miniotest"
)

// A backup written as the community's nebula-br v3.6.0 lays it out: br
// shows it (its real time, spaces, "complete (no manifest)"), verifies
// what can be verified without a manifest (and says the checksums cannot
// be), names a meta file that is missing, and restores it exactly into
// another cluster; then takes an incremental backup of its own on it and
// restores that too. The upstream backup is made the way upstream's br
// makes it, from the facts of its layout: metad's createBackup, then the
// directory of metad's export uploaded to <name>/meta/, each storage
// host's checkpoint directory of each space (cp.data_path: data/ and
// wal/<part>/) to <name>/data/<host:port>/data<i>/<spaceId>/, then
// <name>/<name>.meta: framed BackupMeta with meta_files cut to basenames;
// no manifest; the snapshot dropped. Against a local directory and MinIO;
// clusters on 127.0.7.10-61.
func TestUpstreamLayoutBackup(t *testing.T) {
	for i, kind := range []string{"local", "s3"} {
		t.Run(kind, func(t *testing.T) {
			srcBase, dstBase := fmt.Sprintf("127.0.7.%d", 10+40*i), fmt.Sprintf("127.0.7.%d", 20+40*i)
			requireFree(t, srcBase, 2)
			requireFree(t, dstBase, 2)
			st, cfg := localStorage(t), objstore.Config{}
			if kind == "s3" {
				st = s3Storage(t)
				srv := miniotest.Shared(t)
				cfg.S3 = objstore.S3Config{AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Region: "us-east-1", Endpoint: srv.Endpoint}
			}
			store, err := objstore.Open(context.Background(), st.uri, cfg)
			if err != nil {
				t.Fatal(err)
			}

			src := up(t, srcBase, 2, true, nil)
			s := connect(t, src)
			s.schema("g")
			s.load("g", 0, 900)
			s.Must(`USE g; DELETE VERTEX "v5" WITH EDGE`)
			s.schema("h")
			s.load("h", 0, 200)
			want := map[string]string{"g": s.fingerprint("g"), "h": s.fingerprint("h")}
			name, created := upstreamBackup(t, src, store)

			// show: the real time, spaces, full, and a status that claims
			// no checksums.
			show := brOK(t, st.env, st.flags("show")...)
			row := regexp.MustCompile(`(?m)^` + name + `\s.*$`).FindString(show)
			for _, w := range []string{created.UTC().Format(time.RFC3339), "g,h", " full ", "complete (no manifest)"} {
				if !strings.Contains(row, w) {
					t.Fatalf("show: the row of %s lacks %q:\n%s", name, w, show)
				}
			}
			t.Logf("br show:\n%s", show)
			if !strings.Contains(show, name+": written in nebula-br v3.6.0's layout") || !strings.Contains(show, "no checksums") {
				t.Fatalf("show does not say the backup has no checksums:\n%s", show)
			}

			// verify: complete, and it says what it could not check.
			out := brOK(t, st.env, st.flags("verify", "--name", name)...)
			t.Logf("br verify:\n%s", out)
			if !strings.Contains(out, "backup "+name+" is complete") || !strings.Contains(out, "checksums NOT verified") || strings.Contains(out, "intact") {
				t.Fatalf("verify:\n%s", out)
			}
			metaFile := objectKeys(t, store, name+"/meta/")[0]
			orig := getObject(t, store, metaFile)
			if err := store.Delete(context.Background(), metaFile); err != nil {
				t.Fatal(err)
			}
			r := brRun(t, st.env, st.flags("verify", "--name", name)...)
			if r.err == nil || !strings.Contains(r.out, "meta file "+metaFile+" is not stored") {
				t.Fatalf("verify without %s: %v\n%s", metaFile, r.err, r.out)
			}
			t.Logf("br verify without a meta file:\n%s", r.out)
			putObject(t, store, metaFile, orig)

			// restore: exact.
			dst := up(t, dstBase, 2, true, nil)
			d := connect(t, dst)
			d.schema("other")
			d.load("other", 0, 50)
			brOK(t, st.env, st.flags("restore", "full", "--meta", dst.MetaAddr(), "--name", name, "--state-dir", t.TempDir())...)
			d = connect(t, dst)
			for _, sp := range []string{"g", "h"} {
				if got := d.fingerprint(sp); got != want[sp] {
					t.Fatalf("restored space %s: fingerprint %s, the source had %s", sp, got, want[sp])
				}
			}
			if sp := d.spaces(); strings.Join(sp, ",") != "g,h" {
				t.Fatalf("restored spaces %v, want g,h", sp)
			}
			d.Must(`USE g; INSERT VERTEX p(name, n) VALUES "new":("x", 1)`)
			if kind == "s3" {
				assertNoSecrets(t, st, src, dst)
				return
			}

			// An incremental backup of ours on the upstream one: its
			// chain restores (the upstream checkpoint's data, our WAL).
			s.load("g", 900, 1100)
			s.Must(`USE g; DELETE VERTEX "v7" WITH EDGE`)
			incr := backupName(t, brOK(t, st.env, st.flags("backup", "incr", "--meta", src.MetaAddr(), "--base", name)...))
			wantIncr := s.fingerprint("g")
			out = brOK(t, st.env, st.flags("verify", "--name", incr)...)
			t.Logf("br verify of the incremental:\n%s", out)
			if !strings.Contains(out, "except the checksums of ["+name+"]") {
				t.Fatalf("verify of the incremental:\n%s", out)
			}
			brOK(t, st.env, st.flags("restore", "full", "--meta", dst.MetaAddr(), "--name", incr, "--state-dir", t.TempDir())...)
			d = connect(t, dst)
			if got := d.fingerprint("g"); got != wantIncr {
				t.Fatalf("restored incremental on the upstream backup: %s, the source had %s", got, wantIncr)
			}
			if got := d.fingerprint("h"); got != want["h"] {
				t.Fatalf("restored incremental, space h: %s, want %s", got, want["h"])
			}
		})
	}
}

// upstreamBackup backs src up into store as nebula-br v3.6.0 does, and
// returns the backup's name and creation time.
func upstreamBackup(t *testing.T, src *cluster.Cluster, store objstore.Store) (string, time.Time) {
	t.Helper()
	ctx := context.Background()
	m, err := client.NewMetaClient(src.MetaAddr(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	bm, err := m.CreateBackup(ctx, nil, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	name := string(bm.BackupName)
	defer func() {
		if err := m.DropSnapshot(ctx, []string{name}); err != nil {
			t.Errorf("drop snapshot %s: %v", name, err)
		}
	}()
	if len(bm.MetaFiles) == 0 || len(bm.SpaceBackups) == 0 {
		t.Fatalf("metad's backup has no meta files or no spaces: %v", bm)
	}
	// The directory holding the meta files, uploaded recursively.
	uploadDir(t, store, filepath.Dir(string(bm.MetaFiles[0])), path.Join(name, "meta"))
	// {root}/{name}/data/{host:port}/data{i}/{spaceId}: the checkpoint
	// directory of the space in the host's i-th data path.
	dirs := 0
	for sid, sb := range bm.SpaceBackups {
		for _, hb := range sb.HostBackups {
			for i, cp := range hb.Checkpoints {
				prefix := fmt.Sprintf("%s/data/%s:%d/data%d/%d", name, hb.Host.Host, hb.Host.Port, i, sid)
				uploadDir(t, store, string(cp.DataPath), prefix)
				dirs++
			}
		}
	}
	if len(objectKeys(t, store, name+"/data/")) == 0 || dirs == 0 {
		t.Fatal("no checkpoint data uploaded")
	}
	// The .meta, meta_files cut to basenames, written framed: a 4-byte
	// big-endian length, then the binary-protocol struct.
	var base [][]byte
	for _, f := range bm.MetaFiles {
		base = append(base, []byte(filepath.Base(string(f))))
	}
	bm.MetaFiles = base
	ts := thrift.NewTSerializer()
	ts.Protocol = thrift.NewTBinaryProtocolConf(ts.Transport, &thrift.TConfiguration{})
	body, err := ts.Write(ctx, bm)
	if err != nil {
		t.Fatal(err)
	}
	putObject(t, store, path.Join(name, name+".meta"), append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...))
	for _, k := range objectKeys(t, store, name+"/") {
		if strings.HasSuffix(k, ".manifest") {
			t.Fatalf("an upstream backup with a manifest: %s", k)
		}
	}
	return name, time.UnixMilli(bm.CreateTime)
}

// uploadDir puts every regular file under dir at prefix/<relative path>.
func uploadDir(t *testing.T, store objstore.Store, dir, prefix string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		putObject(t, store, path.Join(prefix, filepath.ToSlash(rel)), b)
		n++
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("upload %s: %d files, %v", dir, n, err)
	}
}

// requireFree fails at once if an address of an n-host cluster from base
// (host i at base+i) is taken: a cluster started over another would fail
// later and less clearly.
func requireFree(t *testing.T, base string, n int) {
	t.Helper()
	ip := net.ParseIP(base).To4()
	if ip == nil || ip[0] != 127 || ip[1] != 0 || ip[2] != 7 || int(ip[3])+n > 255 {
		t.Fatalf("%s: this test's clusters live in 127.0.7.0/24", base)
	}
	for i := 0; i < n; i++ {
		host := net.IPv4(127, 0, 7, ip[3]+byte(i)).String()
		for _, port := range []int{cluster.MetaPort, cluster.GraphPort, cluster.StoragePort - 1, cluster.StoragePort, cluster.StoragePort + 1, cluster.AgentPort} {
			a := net.JoinHostPort(host, fmt.Sprint(port))
			l, err := net.Listen("tcp", a)
			if err != nil {
				t.Fatalf("address %s is not free (%v): another test or process holds it", a, err)
			}
			l.Close()
		}
	}
}
