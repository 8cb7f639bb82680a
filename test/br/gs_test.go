package br

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gcs "cloud.google.com/go/storage"
	"google.golang.org/api/iterator"

	"github.com/nebula-open/nebula-br/internal/lite/cluster"
	"github.com/nebula-open/nebula-br/internal/objstore"
	"github.com/nebula-open/nebula-br/internal/objstore/gcstest"
)

// gsStorage is a bucket of a real GCS API server (fake-gcs-server) reached
// through Google's side of credentials (gcstest.Auth: a token endpoint and
// a token check on every request), with a service account key in a file
// given as --gs.credentials. It returns the key file too.
func gsStorage(t *testing.T) (storage, *gcstest.Auth, string) {
	t.Helper()
	srv := gcstest.Shared(t)
	auth := gcstest.NewAuth(t, srv)
	creds := auth.ServiceAccount(t, "nebula-backup@nebula-br-test.iam.gserviceaccount.com")
	keyFile := filepath.Join(t.TempDir(), "service-account.json")
	if err := os.WriteFile(keyFile, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	bucket := srv.Bucket(t, strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())))
	return storage{
		uri:  "gs://" + bucket + "/backups",
		args: []string{"--gs.credentials", keyFile, "--gs.endpoint", auth.Endpoint},
		keys: objstore.GSSecrets(string(creds)),
	}, auth, keyFile
}

// requireFree9 fails at once if an address of an n-host cluster from base
// (host i at base+i, in 127.0.9.0/24, where this file's clusters live) is
// taken: a cluster started over another would fail later and less clearly.
func requireFree9(t *testing.T, base string, n int) {
	t.Helper()
	ip := net.ParseIP(base).To4()
	if ip == nil || ip[0] != 127 || ip[1] != 0 || ip[2] != 9 || int(ip[3])+n > 255 {
		t.Fatalf("%s: this file's clusters live in 127.0.9.0/24", base)
	}
	for i := 0; i < n; i++ {
		host := net.IPv4(127, 0, 9, ip[3]+byte(i)).String()
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

// noSecretsIn fails if any text shows a piece of the key.
func noSecretsIn(t *testing.T, st storage, texts ...string) {
	t.Helper()
	for _, text := range texts {
		for _, k := range st.keys {
			if strings.Contains(text, k) {
				t.Errorf("output shows the service account key: %q", text)
				break
			}
		}
	}
}

// bucketObjects lists the object names in the bucket under prefix, from
// the server itself.
func bucketObjects(t *testing.T, bucket, prefix string) []string {
	t.Helper()
	c, err := gcstest.Shared(t).Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var names []string
	it := c.Bucket(bucket).Objects(context.Background(), &gcs.Query{Prefix: prefix})
	for {
		a, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, a.Name)
	}
	return names
}

// A full and an incremental backup of a live cluster to Google Cloud
// Storage, restored (the incremental, with its chain) into another
// cluster, exact; the key given as --gs.credentials for the backups and
// through GOOGLE_APPLICATION_CREDENTIALS for the restore, its text never in
// br's output or the agents' logs; a key GCS does not accept is refused at
// once with a message that says so.
func TestGSFullIncrementalAndRestore(t *testing.T) {
	st, auth, keyFile := gsStorage(t)
	requireFree9(t, "127.0.9.10", 3)
	requireFree9(t, "127.0.9.30", 3)
	src := up(t, "127.0.9.10", 3, true, nil)
	s := connect(t, src)
	s.schema("g")
	s.load("g", 0, 1500)
	meta := src.MetaAddr()
	var outs []string

	out := brOK(t, st.env, st.flags("backup", "full", "--meta", meta)...)
	outs = append(outs, out)
	full := backupName(t, out)
	atFull := s.fingerprint("g")
	s.load("g", 1500, 2000)
	s.Must(`USE g; DELETE VERTEX "v7" WITH EDGE; INSERT VERTEX p(name, n) VALUES "v3":("changed", -3)`)
	s.schema("late")
	s.load("late", 0, 200)
	out = brOK(t, st.env, st.flags("backup", "incr", "--meta", meta)...)
	outs = append(outs, out)
	incr := backupName(t, out)
	want, wantLate := s.fingerprint("g"), s.fingerprint("late")
	if want == atFull {
		t.Fatal("the incremental backup holds no change")
	}

	// The backups are in the bucket, under the prefix.
	bucket := strings.TrimPrefix(strings.SplitN(st.uri, "/backups", 2)[0], "gs://")
	for _, n := range []string{full, incr} {
		objs := bucketObjects(t, bucket, "backups/"+n+"/")
		if len(objs) < 3 || !contains(objs, "backups/"+n+"/"+n+".meta") || !contains(objs, "backups/"+n+"/"+n+".manifest") {
			t.Fatalf("bucket %s holds %d objects of %s: %q", bucket, len(objs), n, objs)
		}
	}
	show := brOK(t, st.env, st.flags("show")...)
	outs = append(outs, show)
	for _, n := range []string{full, incr} {
		if !strings.Contains(show, n) {
			t.Fatalf("show does not list %s:\n%s", n, show)
		}
	}
	if strings.Count(show, "complete") < 2 || !strings.Contains(show, "incr") {
		t.Fatalf("show:\n%s", show)
	}
	out = brOK(t, st.env, st.flags("verify", "--name", incr)...)
	outs = append(outs, out)
	if !strings.Contains(out, "intact") {
		t.Fatalf("verify: %s", out)
	}

	// The restore takes the key from GOOGLE_APPLICATION_CREDENTIALS.
	dst := up(t, "127.0.9.30", 3, true, nil)
	out = brOK(t, []string{"GOOGLE_APPLICATION_CREDENTIALS=" + keyFile},
		"restore", "full", "--storage", st.uri, "--gs.endpoint", auth.Endpoint, "--meta", dst.MetaAddr(), "--name", incr)
	outs = append(outs, out)
	d := connect(t, dst)
	if got := d.fingerprint("g"); got != want {
		t.Fatalf("restore of %s from gs: fingerprint %s, source had %s\n%s", incr, got, want, out)
	}
	if got := d.fingerprint("late"); got != wantLate {
		t.Fatalf("restore of %s: space created since the base: %s, want %s", incr, got, wantLate)
	}
	d.Must(`USE g; INSERT VERTEX p(name, n) VALUES "new":("x", 1)`)
	if auth.Requests() == 0 {
		t.Fatal("no request went through the token check")
	}

	// A key the token endpoint does not know: refused before anything
	// starts, saying what to fix.
	bad := auth.ForeignKey(t, "nebula-backup@nebula-br-test.iam.gserviceaccount.com")
	badFile := filepath.Join(t.TempDir(), "old-key.json")
	if err := os.WriteFile(badFile, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	r := brRun(t, nil, "backup", "full", "--meta", meta, "--storage", st.uri, "--gs.credentials", badFile, "--gs.endpoint", auth.Endpoint)
	t.Logf("backup with an unknown key: %v\n%s", r.err, r.out)
	if r.err == nil || !strings.Contains(r.out, fmt.Sprintf("credentials for bucket %q rejected by the token endpoint (400 invalid_grant", bucket)) || !strings.Contains(r.out, "--gs.credentials") {
		t.Fatalf("backup with an unknown key: %v\n%s", r.err, r.out)
	}
	noSecretsIn(t, storage{keys: objstore.GSSecrets(string(bad))}, r.out)
	r = brRun(t, nil, "show", "--storage", st.uri, "--gs.credentials", filepath.Join(t.TempDir(), "missing.json"), "--gs.endpoint", auth.Endpoint)
	if r.err == nil || !strings.Contains(r.out, "--gs.credentials: cannot read the GCS credentials file") {
		t.Fatalf("show with a missing key file: %v\n%s", r.err, r.out)
	}

	noSecretsIn(t, st, outs...)
	assertNoSecrets(t, st, src, dst)
}

// Agents that offer only nebula-agent's API get the bucket, path and key in
// its GS message; the endpoint, which that message cannot carry, comes from
// STORAGE_EMULATOR_HOST, given to br and the agents alike.
func TestGSWithAgentsOfferingOnlyUpstreamAPI(t *testing.T) {
	st, auth, _ := gsStorage(t)
	requireFree9(t, "127.0.9.50", 2)
	requireFree9(t, "127.0.9.70", 2)
	t.Setenv("STORAGE_EMULATOR_HOST", auth.Endpoint) // the agents inherit it
	st.args = st.args[:2]                            // --gs.credentials only
	src := upUpstreamAgents(t, "127.0.9.50", 2)
	s := connect(t, src)
	s.schema("g")
	s.load("g", 0, 600)
	meta := src.MetaAddr()
	full := backupName(t, brOK(t, st.env, st.flags("backup", "full", "--meta", meta)...))
	s.load("g", 600, 800)
	s.Must(`USE g; DELETE VERTEX "v5" WITH EDGE`)
	incr := backupName(t, brOK(t, st.env, st.flags("backup", "incr", "--meta", meta)...))
	want := s.fingerprint("g")
	if out := brOK(t, st.env, st.flags("verify", "--name", incr)...); !strings.Contains(out, "intact") {
		t.Fatalf("verify: %s", out)
	}
	dst := upUpstreamAgents(t, "127.0.9.70", 2)
	out := brOK(t, st.env, st.flags("restore", "full", "--meta", dst.MetaAddr(), "--name", incr)...)
	if got := connect(t, dst).fingerprint("g"); got != want {
		t.Fatalf("restore of %s (base %s) through nebula-agent's API: fingerprint %s, source had %s\n%s", incr, full, got, want, out)
	}
	if auth.Requests() == 0 {
		t.Fatal("no request went through the token check")
	}
	noSecretsIn(t, st, out)
	assertNoSecrets(t, st, src, dst)

	// --gs.endpoint cannot travel in nebula-agent's GS message: said, not
	// dropped (the data would go to Google instead).
	r := brRun(t, nil, st.flags("backup", "full", "--meta", meta, "--gs.endpoint", auth.Endpoint)...)
	if r.err == nil || !strings.Contains(r.out, "STORAGE_EMULATOR_HOST") {
		t.Fatalf("backup with --gs.endpoint through nebula-agent's API: %v\n%s", r.err, r.out)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
