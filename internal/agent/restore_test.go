package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/nebula-open/nebula-br/internal/agent"
	"github.com/nebula-open/nebula-br/internal/agent/client"
	"github.com/nebula-open/nebula-br/internal/agent/pb"
	"github.com/nebula-open/nebula-br/internal/lite/kv"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

// gateStore wraps a store: it counts Gets per key, and the Gets of gateKey
// wait until release (or their context ends).
type gateStore struct {
	objstore.Store
	gateKey string
	gate    chan struct{}
	once    sync.Once

	mu   sync.Mutex
	gets map[string]int
}

func newGateStore(t *testing.T, dir, gateKey string) *gateStore {
	return &gateStore{Store: openLocal(t, dir), gateKey: gateKey, gate: make(chan struct{}), gets: map[string]int{}}
}

func (g *gateStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	g.mu.Lock()
	g.gets[key]++
	g.mu.Unlock()
	if key == g.gateKey {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.Store.Get(ctx, key)
}

func (g *gateStore) release() { g.once.Do(func() { close(g.gate) }) }

func (g *gateStore) getCounts() map[string]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[string]int{}
	for k, v := range g.gets {
		out[k] = v
	}
	return out
}

func (g *gateStore) opener() agent.OpenFunc {
	return func(ctx context.Context, uri string, cfg objstore.Config) (objstore.Store, error) { return g, nil }
}

// objects writes n objects under storeDir/prefix, of distinct sizes from
// size down (so a transfer, biggest first, takes them in order), and
// returns their contents and FileSums in that order.
func objects(t *testing.T, storeDir, prefix string, n, size int) (map[string][]byte, []*pb.FileSum) {
	t.Helper()
	want := map[string][]byte{}
	var sums []*pb.FileSum
	for i := range n {
		key := fmt.Sprintf("d%d/%03d.sst", i%2, i)
		b := writeFile(t, filepath.Join(storeDir, filepath.FromSlash(prefix), filepath.FromSlash(key)), size-i*100, uint64(i+100))
		want[key] = b
		sums = append(sums, &pb.FileSum{Key: key, Size: int64(len(b)), Crc32C: crc(b)})
	}
	return want, sums
}

func sizeOf(sums []*pb.FileSum) (n int64) {
	for _, s := range sums {
		n += s.Size
	}
	return n
}

// waitJob polls a job until it is no longer running.
func waitJob(t *testing.T, c *client.Client, id string) *pb.RestoreDataJob {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := c.RestoreDataStatus(context.Background(), id, false)
		if err != nil {
			t.Fatal(err)
		}
		if st.State != pb.RestoreDataState_RESTORE_DATA_RUNNING {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %q still running: %v", id, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitFor polls a running job until cond holds.
func waitFor(t *testing.T, c *client.Client, id string, cond func(*pb.RestoreDataJob) bool) *pb.RestoreDataJob {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := c.RestoreDataStatus(context.Background(), id, false)
		if err != nil {
			t.Fatal(err)
		}
		if cond(st) {
			return st
		}
		if st.State != pb.RestoreDataState_RESTORE_DATA_RUNNING || time.Now().After(deadline) {
			t.Fatalf("job %q: condition not met: %v", id, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func wantDone(t *testing.T, st *pb.RestoreDataJob) {
	t.Helper()
	if st.State != pb.RestoreDataState_RESTORE_DATA_DONE || st.Phase != "done" || st.Error != "" ||
		st.BytesDone != st.BytesTotal || st.FilesDone != st.FilesTotal {
		t.Fatalf("job not done: %v", st)
	}
}

// sameTree fails unless dir holds exactly want (no temporary files either).
func sameTree(t *testing.T, dir string, want map[string][]byte) {
	t.Helper()
	got := readTree(t, dir)
	if !reflect.DeepEqual(keys(got), keys(want)) {
		t.Fatalf("files under %s: %q, want %q", dir, keys(got), keys(want))
	}
	for k, b := range want {
		if string(got[k]) != string(b) {
			t.Errorf("%s differs from its object", k)
		}
	}
}

func readJournal(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("journal %s: %v: %s", path, err, b)
	}
	return m
}

// playbackFixture is a backed-up storaged host in a local store: a
// checkpoint of space 1's engine, and WAL written after it.
type playbackFixture struct {
	storeDir string
	want     map[int32]int64 // part -> applied id after the playback
}

func newPlaybackFixture(t *testing.T) *playbackFixture {
	t.Helper()
	srcPath := t.TempDir()
	s, err := kv.Open(kv.Options{DataPath: srcPath, WALFileSize: 2 << 10})
	if err != nil {
		t.Fatal(err)
	}
	put := func(p *kv.Part, k string) {
		if _, err := p.Write(kv.Batch{Puts: []kv.KeyValue{{Key: []byte(k), Value: []byte("v-" + k)}}}); err != nil {
			t.Fatal(err)
		}
	}
	p1, _ := s.AddPart(1, 1)
	p2, _ := s.AddPart(1, 2)
	for i := range 30 {
		put(p1, fmt.Sprintf("a%03d", i))
		put(p2, fmt.Sprintf("b%03d", i))
	}
	cp, err := s.Checkpoint(1, "BACKUP_1")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		put(p1, fmt.Sprintf("late%03d", i))
	}
	put(p2, "late")
	f := &playbackFixture{storeDir: t.TempDir(), want: map[int32]int64{1: int64(p1.Applied()), 2: int64(p2.Applied())}}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	copyTree(t, filepath.Join(cp.Dir, "data"), filepath.Join(f.storeDir, "B", "data", "1", "h", "data"))
	copyTree(t, filepath.Join(srcPath, "nebula", "1", "wal"), filepath.Join(f.storeDir, "B", "data", "1", "h", "wal"))
	return f
}

// request is the job restoring the fixture into dataPath.
func (f *playbackFixture) request(t *testing.T, id, dataPath string) *pb.RestoreDataRequest {
	t.Helper()
	req := &pb.RestoreDataRequest{Id: id, PlaybackDataPath: dataPath, JournalPath: filepath.Join(dataPath, ".br-restore-data")}
	for _, sub := range []string{"data", "wal"} {
		dir := filepath.Join(f.storeDir, "B", "data", "1", "h", sub)
		var sums []*pb.FileSum
		for k, b := range readTree(t, dir) {
			sums = append(sums, &pb.FileSum{Key: k, Size: int64(len(b)), Crc32C: crc(b)})
		}
		req.Downloads = append(req.Downloads, &pb.DownloadFileRequest{
			Backend: &pb.Backend{Uri: localURI(f.storeDir)}, Prefix: "B/data/1/h/" + sub,
			TargetPath: filepath.Join(dataPath, "nebula", "1", sub), Files: sums, Concurrency: 3,
		})
	}
	return req
}

// check fails unless st reports the fixture's parts and dataPath holds
// the played-back engine.
func (f *playbackFixture) check(t *testing.T, st *pb.RestoreDataJob, dataPath string) {
	t.Helper()
	got := map[int32]int64{}
	for _, p := range st.Parts {
		if p.SpaceId != 1 {
			t.Errorf("unexpected space %d", p.SpaceId)
		}
		got[p.PartId] = p.AppliedLogId
	}
	if !reflect.DeepEqual(got, f.want) {
		t.Errorf("applied ids %v, want %v", got, f.want)
	}
	r, err := kv.Open(kv.Options{DataPath: dataPath})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if v, ok, err := r.Space(1).Part(1).Get([]byte("late049")); err != nil || !ok || string(v) != "v-late049" {
		t.Errorf("a write after the checkpoint is not played back: %q %v %v", v, ok, err)
	}
	if v, ok, err := r.Space(1).Part(2).Get([]byte("b007")); err != nil || !ok || string(v) != "v-b007" {
		t.Errorf("a checkpointed write is missing: %q %v %v", v, ok, err)
	}
}

func TestRestoreDataPlaybackDoneAndRedone(t *testing.T) {
	ctx := context.Background()
	f := newPlaybackFixture(t)
	dataPath := filepath.Join(t.TempDir(), "storage")
	req := f.request(t, "restore B data of h", dataPath)
	total := sizeOf(req.Downloads[0].Files) + sizeOf(req.Downloads[1].Files)
	nfiles := len(req.Downloads[0].Files) + len(req.Downloads[1].Files)

	// Downloads, then the playback.
	g1 := newGateStore(t, f.storeDir, "")
	a1 := startAgent(t, agent.Config{Open: g1.opener()})
	st, err := a1.c.RestoreData(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if st.Id != req.Id || st.BytesTotal != total || int(st.FilesTotal) != nfiles {
		t.Errorf("first status %v, want %d bytes in %d files", st, total, nfiles)
	}
	st = waitJob(t, a1.c, req.Id)
	wantDone(t, st)
	if st.BytesFetched != total || st.FilesSkipped != 0 {
		t.Errorf("a fresh job fetched %d bytes (want %d), skipped %d files", st.BytesFetched, total, st.FilesSkipped)
	}
	f.check(t, st, dataPath)
	if j := readJournal(t, req.JournalPath); j["id"] != req.Id || j["phase"] != "done" || len(j["parts"].([]any)) != 2 || j["time"] == nil {
		t.Errorf("journal %v", j)
	}
	// Asking again reports the job; nothing is done again.
	again, err := a1.c.RestoreData(ctx, req)
	if err != nil || again.State != pb.RestoreDataState_RESTORE_DATA_DONE || again.BytesFetched != total {
		t.Fatalf("RestoreData of a done job: %v, %v", again, err)
	}
	gets := 0
	for _, n := range g1.getCounts() {
		gets += n
	}
	if gets != nfiles {
		t.Errorf("%d Gets for %d files", gets, nfiles)
	}
	// Another job may not take over the journal.
	other := f.request(t, "restore C data of h", dataPath)
	_, err = a1.c.RestoreData(ctx, other)
	wantCode(t, err, codes.FailedPrecondition, req.JournalPath, `belongs to job "restore B data of h"`, "remove it first")
	a1.srv.Stop(5 * time.Second)

	// A restarted agent finds the job done in its journal: it does not
	// redo it (the storage is gone: any Get would fail).
	gone := t.TempDir()
	g2 := newGateStore(t, gone, "")
	a2 := startAgent(t, agent.Config{Open: g2.opener()})
	if st, _ := a2.c.RestoreDataStatus(ctx, req.Id, false); st.State != pb.RestoreDataState_RESTORE_DATA_NONE {
		t.Errorf("status before any request on a new agent: %v", st)
	}
	st, err = a2.c.RestoreData(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	wantDone(t, st)
	if st.BytesFetched != 0 || len(g2.getCounts()) != 0 {
		t.Errorf("a done job was redone: %v, gets %v", st, g2.getCounts())
	}
	f.check(t, st, dataPath)
	a2.srv.Stop(5 * time.Second)

	// A playback cut off (the journal says "playback"; the engine wrote
	// files of its own): everything is downloaded again, then played back.
	j := readJournal(t, req.JournalPath)
	j["phase"], j["parts"] = "playback", nil
	b, _ := json.Marshal(j)
	if err := os.WriteFile(req.JournalPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dataPath, "nebula", "1", "data", "999999.sst")
	writeFile(t, junk, 100, 1)
	g3 := newGateStore(t, f.storeDir, "")
	a3 := startAgent(t, agent.Config{Open: g3.opener()})
	if _, err := a3.c.RestoreData(ctx, req); err != nil {
		t.Fatal(err)
	}
	st = waitJob(t, a3.c, req.Id)
	wantDone(t, st)
	if st.FilesSkipped != 0 || st.BytesFetched != total {
		t.Errorf("an interrupted playback is not redone from scratch: %v", st)
	}
	if _, err := os.Stat(junk); !os.IsNotExist(err) {
		t.Errorf("the interrupted playback's files are kept: %v", err)
	}
	for k, n := range g3.getCounts() {
		if n != 1 {
			t.Errorf("%s fetched %d times", k, n)
		}
	}
	f.check(t, st, dataPath)
	if j := readJournal(t, req.JournalPath); j["phase"] != "done" {
		t.Errorf("journal after the redo: %v", j)
	}
}

func TestRestoreDataIdempotentAndDetached(t *testing.T) {
	ctx := context.Background()
	storeDir := t.TempDir()
	want, sums := objects(t, storeDir, "B/meta", 6, 20000)
	g := newGateStore(t, storeDir, "B/meta/"+sums[2].Key)
	a := startAgent(t, agent.Config{Open: g.opener()})
	dst := filepath.Join(t.TempDir(), "meta")
	req := &pb.RestoreDataRequest{
		Id:          "restore B meta",
		Downloads:   []*pb.DownloadFileRequest{{Backend: &pb.Backend{Uri: localURI(storeDir)}, Prefix: "B/meta", TargetPath: dst, Files: sums, Concurrency: 1}},
		JournalPath: filepath.Join(dst, ".br-restore-data"),
	}

	// Started by a caller that then goes away (context cancelled,
	// connection closed).
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	c2, err := client.Dial(dctx, a.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	st, err := c2.RestoreData(cctx, req)
	cancel()
	c2.Close()
	if err != nil {
		t.Fatal(err)
	}
	if st.State != pb.RestoreDataState_RESTORE_DATA_RUNNING || st.Phase != "download" || st.BytesTotal != sizeOf(sums) || st.FilesTotal != 6 {
		t.Fatalf("started job: %v", st)
	}
	// It goes on (up to the gated object).
	st = waitFor(t, a.c, req.Id, func(st *pb.RestoreDataJob) bool { return st.FilesDone == 2 })
	if st.BytesDone != sums[0].Size+sums[1].Size {
		t.Errorf("bytes done %d after the two first files", st.BytesDone)
	}
	if j := readJournal(t, req.JournalPath); j["id"] != req.Id || j["phase"] != "download" {
		t.Errorf("journal during the downloads: %v", j)
	}

	// The same id again: the running job, nothing new started.
	again, err := a.c.RestoreData(ctx, req)
	if err != nil || again.State != pb.RestoreDataState_RESTORE_DATA_RUNNING || again.FilesDone != 2 {
		t.Fatalf("RestoreData of a running job: %v, %v", again, err)
	}
	// Another job is refused while it runs, naming it.
	other := &pb.RestoreDataRequest{Id: "restore B data", JournalPath: filepath.Join(t.TempDir(), "j")}
	_, err = a.c.RestoreData(ctx, other)
	wantCode(t, err, codes.FailedPrecondition, `restore job "restore B meta"`, a.srv.Addr())

	g.release()
	st = waitJob(t, a.c, req.Id)
	wantDone(t, st)
	if st.BytesFetched != sizeOf(sums) || st.FilesSkipped != 0 || len(st.Parts) != 0 {
		t.Errorf("done: %v; want every byte fetched once (%d)", st, sizeOf(sums))
	}
	for k, n := range g.getCounts() {
		if n != 1 {
			t.Errorf("%s fetched %d times", k, n)
		}
	}
	got := readTree(t, dst)
	if _, ok := got[".br-restore-data"]; !ok {
		t.Error("no journal in the target")
	}
	delete(got, ".br-restore-data") // the journal lives in the target here
	if !reflect.DeepEqual(keys(got), keys(want)) {
		t.Fatalf("restored %q", keys(got))
	}
	for k, b := range want {
		if string(got[k]) != string(b) {
			t.Errorf("%s differs", k)
		}
	}
	// Now the other job may run.
	if st, err := a.c.RestoreData(ctx, other); err != nil || st.State != pb.RestoreDataState_RESTORE_DATA_RUNNING {
		t.Fatalf("the next job: %v, %v", st, err)
	}
	wantDone(t, waitJob(t, a.c, other.Id))
}

func TestRestoreDataCancel(t *testing.T) {
	ctx := context.Background()
	storeDir := t.TempDir()
	want, sums := objects(t, storeDir, "P", 5, 30000)
	g := newGateStore(t, storeDir, "P/"+sums[2].Key)
	a := startAgent(t, agent.Config{Open: g.opener()})
	dst := t.TempDir()
	req := &pb.RestoreDataRequest{
		Id:          "job",
		Downloads:   []*pb.DownloadFileRequest{{Backend: &pb.Backend{Uri: localURI(storeDir)}, Prefix: "P", TargetPath: filepath.Join(dst, "x"), Files: sums, Concurrency: 1}},
		JournalPath: filepath.Join(dst, "journal"),
	}
	if _, err := a.c.RestoreData(ctx, req); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a.c, req.Id, func(st *pb.RestoreDataJob) bool { return st.FilesDone == 2 })

	st, err := a.c.RestoreDataStatus(ctx, req.Id, true)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != pb.RestoreDataState_RESTORE_DATA_FAILED || st.Error != "canceled" || codes.Code(st.ErrorCode) != codes.Canceled || st.Phase != "download" {
		t.Fatalf("cancelled job: %v", st)
	}
	if st2, _ := a.c.RestoreDataStatus(ctx, req.Id, false); st2.State != pb.RestoreDataState_RESTORE_DATA_FAILED {
		t.Errorf("status after the cancel: %v", st2)
	}
	for k := range readTree(t, dst) {
		if strings.Contains(k, ".download-") || strings.Contains(k, ".tmp-") {
			t.Errorf("temporary file left: %s", k)
		}
	}
	if st, err := a.c.RestoreDataStatus(ctx, "no such job", true); err != nil || st.State != pb.RestoreDataState_RESTORE_DATA_NONE {
		t.Errorf("cancel of an unknown job: %v, %v", st, err)
	}

	// A new request restarts the failed job; the files in place stay.
	g.release()
	st, err = a.c.RestoreData(ctx, req)
	if err != nil || st.State != pb.RestoreDataState_RESTORE_DATA_RUNNING || st.Error != "" {
		t.Fatalf("restart: %v, %v", st, err)
	}
	st = waitJob(t, a.c, req.Id)
	wantDone(t, st)
	if st.FilesSkipped != 2 || st.BytesFetched != sizeOf(sums[2:]) {
		t.Errorf("restarted job: %v; want 2 files skipped, %d bytes fetched", st, sizeOf(sums[2:]))
	}
	sameTree(t, filepath.Join(dst, "x"), want)
	// Cancelling a finished job changes nothing.
	if st, err := a.c.RestoreDataStatus(ctx, req.Id, true); err != nil || st.State != pb.RestoreDataState_RESTORE_DATA_DONE {
		t.Errorf("cancel of a done job: %v, %v", st, err)
	}
}

func TestRestoreDataResumeAfterAgentRestart(t *testing.T) {
	ctx := context.Background()
	storeDir := t.TempDir()
	want, sums := objects(t, storeDir, "B/d", 8, 40000)
	dst := filepath.Join(t.TempDir(), "data")
	req := &pb.RestoreDataRequest{
		Id:          "restore B data of h",
		Downloads:   []*pb.DownloadFileRequest{{Backend: &pb.Backend{Uri: localURI(storeDir)}, Prefix: "B/d", TargetPath: filepath.Join(dst, "nebula", "1"), Files: sums, Concurrency: 1}},
		JournalPath: filepath.Join(dst, ".br-restore-data"),
	}
	// A slow agent (the last object also waits, so the job cannot end
	// before it is stopped).
	g1 := newGateStore(t, storeDir, "B/d/"+sums[7].Key)
	a1 := startAgent(t, agent.Config{Open: g1.opener(), RateLimitMbps: 2})
	if _, err := a1.c.RestoreData(ctx, req); err != nil {
		t.Fatal(err)
	}
	st := waitFor(t, a1.c, req.Id, func(st *pb.RestoreDataJob) bool { return st.FilesDone >= 2 })
	if st.BytesDone <= 0 || st.BytesDone >= st.BytesTotal {
		t.Fatalf("stopping the agent at %v: want it mid-download", st)
	}
	t.Logf("agent stopped at %d of %d bytes, %d files", st.BytesDone, st.BytesTotal, st.FilesDone)
	a1.srv.Stop(5 * time.Second)
	if j := readJournal(t, req.JournalPath); j["phase"] != "download" {
		t.Fatalf("journal of the cut job: %v", j)
	}

	// A new agent over the same paths: the same id resumes.
	g2 := newGateStore(t, storeDir, "")
	a2 := startAgent(t, agent.Config{Open: g2.opener()})
	if _, err := a2.c.RestoreData(ctx, req); err != nil {
		t.Fatal(err)
	}
	st = waitJob(t, a2.c, req.Id)
	wantDone(t, st)
	if st.FilesSkipped < 2 || st.BytesFetched >= st.BytesTotal || st.BytesTotal != sizeOf(sums) {
		t.Errorf("resumed job: %v; want the files in place skipped", st)
	}
	if n := len(g2.getCounts()); n != 8-int(st.FilesSkipped) {
		t.Errorf("%d objects fetched after the restart, %d skipped, of 8", n, st.FilesSkipped)
	}
	sameTree(t, filepath.Join(dst, "nebula", "1"), want)
}

func TestRestoreDataDamagedObject(t *testing.T) {
	ctx := context.Background()
	storeDir := t.TempDir()
	want, sums := objects(t, storeDir, "B", 4, 5000)
	a := startAgent(t, agent.Config{RetryBackoff: []time.Duration{time.Millisecond}})
	dst := t.TempDir()
	req := &pb.RestoreDataRequest{
		Id:          "j",
		Downloads:   []*pb.DownloadFileRequest{{Backend: &pb.Backend{Uri: localURI(storeDir)}, Prefix: "B", TargetPath: filepath.Join(dst, "t"), Files: sums}},
		JournalPath: filepath.Join(dst, "journal"),
	}
	victim := sums[1].Key
	obj := filepath.Join(storeDir, "B", filepath.FromSlash(victim))
	b := append([]byte(nil), want[victim]...)
	b[10] ^= 1
	if err := os.WriteFile(obj, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := a.c.RestoreData(ctx, req); err != nil {
		t.Fatal(err)
	}
	st := waitJob(t, a.c, req.Id)
	if st.State != pb.RestoreDataState_RESTORE_DATA_FAILED || codes.Code(st.ErrorCode) != codes.DataLoss ||
		!strings.Contains(st.Error, "object B/"+victim+": checksum mismatch") || st.Phase != "download" {
		t.Fatalf("damaged object: %v", st)
	}
	if _, err := os.Stat(filepath.Join(dst, "t", filepath.FromSlash(victim))); !os.IsNotExist(err) {
		t.Errorf("a damaged object landed: %v", err)
	}

	// Missing: NotFound naming it (the failed job is restarted).
	os.Remove(obj)
	if _, err := a.c.RestoreData(ctx, req); err != nil {
		t.Fatal(err)
	}
	st = waitJob(t, a.c, req.Id)
	if st.State != pb.RestoreDataState_RESTORE_DATA_FAILED || codes.Code(st.ErrorCode) != codes.NotFound || !strings.Contains(st.Error, "object B/"+victim) {
		t.Fatalf("missing object: %v", st)
	}

	// Repaired: the job completes.
	os.WriteFile(obj, want[victim], 0o644)
	if _, err := a.c.RestoreData(ctx, req); err != nil {
		t.Fatal(err)
	}
	wantDone(t, waitJob(t, a.c, req.Id))
	sameTree(t, filepath.Join(dst, "t"), want)
}

func TestRestoreDataRequests(t *testing.T) {
	ctx := context.Background()
	storeDir := t.TempDir()
	want, sums := objects(t, storeDir, "M", 3, 3000)
	a := startAgent(t, agent.Config{})
	dir := t.TempDir()
	backend := &pb.Backend{Uri: localURI(storeDir)}
	dl := func(target string) *pb.DownloadFileRequest {
		return &pb.DownloadFileRequest{Backend: backend, Prefix: "M", TargetPath: target, Files: sums}
	}

	_, err := a.c.RestoreData(ctx, &pb.RestoreDataRequest{JournalPath: filepath.Join(dir, "j")})
	wantCode(t, err, codes.InvalidArgument, "id")
	_, err = a.c.RestoreData(ctx, &pb.RestoreDataRequest{Id: "x"})
	wantCode(t, err, codes.InvalidArgument, "journal_path")
	_, err = a.c.RestoreData(ctx, &pb.RestoreDataRequest{Id: "x", JournalPath: "j"})
	wantCode(t, err, codes.InvalidArgument, "journal_path", "absolute")
	_, err = a.c.RestoreData(ctx, &pb.RestoreDataRequest{Id: "x", JournalPath: filepath.Join(dir, "j"), Downloads: []*pb.DownloadFileRequest{dl("rel")}})
	wantCode(t, err, codes.InvalidArgument, "target_path")
	bad := dl(dir)
	bad.Files = []*pb.FileSum{{Key: "../up"}}
	_, err = a.c.RestoreData(ctx, &pb.RestoreDataRequest{Id: "x", JournalPath: filepath.Join(dir, "j"), Downloads: []*pb.DownloadFileRequest{bad}})
	wantCode(t, err, codes.InvalidArgument, "../up")
	os.WriteFile(filepath.Join(dir, "garbage"), []byte("{not json"), 0o644)
	_, err = a.c.RestoreData(ctx, &pb.RestoreDataRequest{Id: "x", JournalPath: filepath.Join(dir, "garbage")})
	wantCode(t, err, codes.FailedPrecondition, filepath.Join(dir, "garbage"), "unreadable")
	_, err = a.c.RestoreDataStatus(ctx, "", false)
	wantCode(t, err, codes.InvalidArgument, "id")

	// A journal inside the target (as for metad's export) survives the
	// redo of an interrupted playback; everything else there goes.
	target := filepath.Join(dir, "export")
	journal := filepath.Join(target, ".br-restore-data")
	writeFile(t, filepath.Join(target, "stale", "file"), 10, 1)
	os.WriteFile(journal, []byte(`{"id": "meta", "phase": "playback"}`), 0o644)
	if _, err := a.c.RestoreData(ctx, &pb.RestoreDataRequest{Id: "meta", JournalPath: journal, Downloads: []*pb.DownloadFileRequest{dl(target)}}); err != nil {
		t.Fatal(err)
	}
	st := waitJob(t, a.c, "meta")
	wantDone(t, st)
	if st.FilesSkipped != 0 {
		t.Errorf("redo: %v", st)
	}
	got := readTree(t, target)
	if _, ok := got[".br-restore-data"]; !ok {
		t.Error("the journal was removed")
	}
	delete(got, ".br-restore-data")
	if !reflect.DeepEqual(keys(got), keys(want)) {
		t.Errorf("target after the redo: %q, want %q", keys(got), keys(want))
	}

	// A failed playback: FAILED in phase playback, which the journal
	// records; asking again downloads everything again before playing back.
	notDir := filepath.Join(dir, "not-a-dir")
	writeFile(t, notDir, 1, 1)
	pb1 := &pb.RestoreDataRequest{Id: "pb", JournalPath: filepath.Join(dir, "pb.j"), PlaybackDataPath: notDir, Downloads: []*pb.DownloadFileRequest{dl(filepath.Join(dir, "pb"))}}
	if _, err := a.c.RestoreData(ctx, pb1); err != nil {
		t.Fatal(err)
	}
	st = waitJob(t, a.c, "pb")
	if st.State != pb.RestoreDataState_RESTORE_DATA_FAILED || st.Phase != "playback" || codes.Code(st.ErrorCode) != codes.InvalidArgument ||
		!strings.Contains(st.Error, notDir) || st.BytesDone != sizeOf(sums) {
		t.Fatalf("failed playback: %v", st)
	}
	if j := readJournal(t, pb1.JournalPath); j["phase"] != "playback" {
		t.Errorf("journal after a failed playback: %v", j)
	}
	if _, err := a.c.RestoreData(ctx, pb1); err != nil {
		t.Fatal(err)
	}
	st = waitJob(t, a.c, "pb")
	if st.State != pb.RestoreDataState_RESTORE_DATA_FAILED || st.Phase != "playback" || st.FilesSkipped != 0 || st.BytesFetched != sizeOf(sums) {
		t.Fatalf("failed playback, again: %v", st)
	}

	// An empty file list fetches everything under the prefix.
	all := dl(filepath.Join(dir, "all"))
	all.Files = nil
	if _, err := a.c.RestoreData(ctx, &pb.RestoreDataRequest{Id: "all", JournalPath: filepath.Join(dir, "all.j"), Downloads: []*pb.DownloadFileRequest{all}}); err != nil {
		t.Fatal(err)
	}
	st = waitJob(t, a.c, "all")
	wantDone(t, st)
	if st.FilesTotal != 3 || st.BytesTotal != sizeOf(sums) {
		t.Errorf("job over a listed prefix: %v", st)
	}
	sameTree(t, filepath.Join(dir, "all"), want)
}

func TestRestoreDataSecrets(t *testing.T) {
	ctx := context.Background()
	storeDir := t.TempDir()
	_, sums := objects(t, storeDir, "S", 2, 1000)
	leaky := fmt.Errorf("auth failed with %s:%s", accessKey, secretKey)
	open := func(ctx context.Context, uri string, cfg objstore.Config) (objstore.Store, error) { return nil, leaky }
	a := startAgent(t, agent.Config{Open: open})
	dir := t.TempDir()
	req := &pb.RestoreDataRequest{
		Id: "s", JournalPath: filepath.Join(dir, "j"),
		Downloads: []*pb.DownloadFileRequest{{Backend: &pb.Backend{Uri: localURI(storeDir), S3AccessKey: accessKey, S3SecretKey: secretKey}, Prefix: "S", TargetPath: dir, Files: sums}},
	}
	if _, err := a.c.RestoreData(ctx, req); err != nil {
		t.Fatal(err)
	}
	st := waitJob(t, a.c, "s")
	if st.State != pb.RestoreDataState_RESTORE_DATA_FAILED || !strings.Contains(st.Error, "auth failed") || !strings.Contains(st.Error, agent.Redacted) {
		t.Fatalf("job with a failing storage: %v", st)
	}
	logs := a.logs.String()
	if !strings.Contains(logs, "restore job failed") {
		t.Errorf("the failure is not logged:\n%s", logs)
	}
	for _, secret := range []string{accessKey, secretKey} {
		if strings.Contains(st.Error, secret) || strings.Contains(st.String(), secret) {
			t.Errorf("the job's error holds a key: %v", st)
		}
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds a key:\n%s", logs)
		}
		if b, err := os.ReadFile(req.JournalPath); err == nil && strings.Contains(string(b), secret) {
			t.Errorf("the journal holds a key: %s", b)
		}
	}
}
