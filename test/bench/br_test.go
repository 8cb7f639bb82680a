package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/minio/minio-go/v7"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/nebula-open/nebula-br/internal/lite/bulkload"
	"github.com/nebula-open/nebula-br/internal/lite/cluster"
	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/objstore/miniotest"
)

// The br benchmark: one run, one MinIO, real processes. Figures are
// printed as `name: value` lines; nothing is asserted about them.

func repoBin(t *testing.T, name string) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "bin", name)
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("%s missing: run `make bench` (it builds bin/)", p)
			}
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repository root not found")
		}
		dir = parent
	}
}

func benchCluster(t *testing.T, base string, n int) *cluster.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := cluster.Up(ctx, cluster.Spec{Root: t.TempDir(), Storaged: n, AddrBase: base, Agents: true,
		Binary: repoBin(t, "nebula-lite"), AgentBinary: repoBin(t, "br-agent")})
	if c != nil {
		t.Cleanup(func() { c.Down() })
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func graph(t *testing.T, c *cluster.Cluster) *client.GraphClient {
	t.Helper()
	g, err := client.NewGraphClient(c.GraphAddr(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Authenticate(context.Background(), "root", "nebula"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// loadPayloadInto writes vertices [from, to) of space (tag blob) with
// ~payload random bytes each (incompressible, so stored bytes track the
// data) through 4 sessions.
func loadPayloadInto(t *testing.T, c *cluster.Cluster, space string, from, to, payload int) {
	t.Helper()
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		g := graph(t, c)
		if _, err := g.Execute(context.Background(), "USE "+space); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, payload/2)
			for lo := range jobs {
				var sb strings.Builder
				sb.WriteString("INSERT VERTEX blob(data, n) VALUES ")
				for i := lo; i < min(lo+200, to); i++ {
					rand.Read(buf)
					if i > lo {
						sb.WriteByte(',')
					}
					fmt.Fprintf(&sb, `%d:("%s", %d)`, i, hex.EncodeToString(buf), i)
				}
				if _, err := g.Execute(context.Background(), sb.String()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for lo := from; lo < to; lo += 200 {
		jobs <- lo
	}
	close(jobs)
	wg.Wait()
}

func run(t *testing.T, env []string, bin string, args ...string) (string, time.Duration) {
	t.Helper()
	out, d, _ := runRSS(t, env, bin, args...)
	return out, d
}

// runRSS runs bin to its end and returns its output (stdout and stderr),
// how long it took and its peak resident set in KiB.
func runRSS(t *testing.T, env []string, bin string, args ...string) (string, time.Duration, int64) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss // KiB on Linux
	}
	return string(out), d, rss
}

var nameRE = regexp.MustCompile(`(?m)^BACKUP_\d{4}(_\d{2}){5}$`)

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// The sizes TestBRBench runs at: defaultBenchSize, then BENCH_SIZE (e.g.
// 10G, parsed by go-humanize) when it is set; both are the graph's logical
// size (keys and values, as `nebula-lite load --size`): its tables on disk
// are about half that.
const defaultBenchSize = "400M"

func benchSizes(t *testing.T) []string {
	sizes := []string{defaultBenchSize}
	if s := os.Getenv("BENCH_SIZE"); s != "" {
		b, err := humanize.ParseBytes(s)
		if err != nil {
			t.Fatalf("BENCH_SIZE=%q: %v (e.g. 10G)", s, err)
		}
		d, _ := humanize.ParseBytes(defaultBenchSize)
		if b != d {
			sizes = append(sizes, s)
		}
	}
	return sizes
}

// sizeRun is one size's figures.
type sizeRun struct {
	label        string
	logical      int64 // the loaded graph's logical size
	vertices     int64
	load         time.Duration
	ckBytes      int64 // the checkpoint's files, what rclone copies
	full, rcUp   time.Duration
	restore      time.Duration
	transfer     time.Duration // restore's download phase, from its log
	rcDown       time.Duration
	restart      time.Duration // stop + start of the target's services
	change       time.Duration // the 1% change through graphd
	changeBytes  int64
	incr         time.Duration
	fullBytes    int64 // uploaded by the full backup (object listing)
	incrBytes    int64 // uploaded by the incremental backup
	restoreBytes int64 // downloaded by the restore: the objects of the backup it restores
	// restoreReported is the byte count of br's summary line (it counts
	// each storage host's download again in the playback step).
	restoreReported int64
	stall, cut      time.Duration
	brRSS           int64 // KiB, the largest of br's three runs
	agentRSS        int64 // KiB, the largest agent of source and target
}

// TestBRBench: at each size, a graph bulk-loaded into a 3-host cluster,
// br's full backup against rclone copying the same checkpoint files to the
// same MinIO, br's restore into a second cluster against rclone copying
// them back plus a restart of that cluster's storaged, an incremental
// backup after 1% of the data is rewritten through graphd, the write stall
// and checkpoint cut of that cluster, the peak RSS of br and every agent,
// and the bytes moved. Then write stall and cut at 1x, 4x and 20x data on
// one host. One run, one MinIO, real processes; figures are printed (a
// table, `name: value` lines for the largest size) and plotted; nothing is
// asserted about them.
func TestBRBench(t *testing.T) {
	skipUnlessBench(t)
	srv := miniotest.Start(t)
	bucket := srv.Bucket(t, "bench")
	var runs []sizeRun
	for _, size := range benchSizes(t) {
		r := brBenchAt(t, srv, bucket, size)
		runs = append(runs, r)
		printSizeRun(r)
	}
	series := stallSeries(t)

	fmt.Printf("\nbr benchmark: a generated graph (tag p, edge r, fanout 3) over 3 storage hosts, MinIO on loopback\n")
	fmt.Printf("  %-6s %7s %9s %9s %9s %9s %15s %8s %10s %9s %7s %8s %8s %10s\n", "size", "tables", "full s", "rclone↑ s", "restore s",
		"rclone↓+", "incr s", "incr MB", "stall ms", "cut ms", "br RSS", "agentRSS", "up MB", "down MB")
	fmt.Printf("  %-6s %7s %9s %9s %9s %9s %15s %8s %10s %9s %7s %8s %8s %10s\n", "", "MB", "", "", "", "restart s", "(change s)", "", "", "", "MiB", "MiB", "", "")
	for _, r := range runs {
		fmt.Printf("  %-6s %7.0f %9.2f %9.2f %9.2f %9.2f %6.2f (%6.1f) %8.1f %10d %9d %7.0f %8.0f %8.0f %10.0f\n", r.label, mb(r.ckBytes),
			r.full.Seconds(), r.rcUp.Seconds(), r.restore.Seconds(), (r.rcDown + r.restart).Seconds(), r.incr.Seconds(), r.change.Seconds(),
			mb(r.incrBytes), r.stall.Milliseconds(), r.cut.Milliseconds(), mib(r.brRSS), mib(r.agentRSS), mb(r.fullBytes+r.incrBytes), mb(r.restoreBytes))
	}
	fmt.Printf("  write stall / cut on 1 host: ")
	for _, s := range series {
		fmt.Printf("%s (%s) %d ms / %d ms;  ", s.label, s.size, s.stall.Milliseconds(), s.cut.Milliseconds())
	}
	fmt.Println()

	last := runs[len(runs)-1]
	var stallMax time.Duration
	var brMax, agentMax int64
	for _, r := range runs {
		stallMax, brMax, agentMax = max(stallMax, r.stall), max(brMax, r.brRSS), max(agentMax, r.agentRSS)
	}
	for _, s := range series {
		stallMax = max(stallMax, s.stall)
	}
	fmt.Printf("bench_size: %s\n", last.label)
	fmt.Printf("full_backup_vs_rclone: %.2f\n", last.rcUp.Seconds()/last.full.Seconds())
	fmt.Printf("restore_vs_rclone: %.2f\n", (last.rcDown+last.restart).Seconds()/last.restore.Seconds())
	fmt.Printf("restore_vs_rclone_copy_only: %.2f\n", last.rcDown.Seconds()/last.restore.Seconds())
	if last.transfer > 0 {
		fmt.Printf("restore_transfer_vs_rclone: %.2f  (download phase only: %s)\n", last.rcDown.Seconds()/last.transfer.Seconds(), last.transfer.Round(time.Millisecond))
	}
	fmt.Printf("incr_1pct_time_ratio: %.3f\n", last.incr.Seconds()/last.full.Seconds())
	fmt.Printf("incr_1pct_bytes_ratio: %.3f\n", float64(last.incrBytes)/float64(max(last.fullBytes, 1)))
	fmt.Printf("full_backup_bytes: %d\n", last.fullBytes)
	fmt.Printf("incr_backup_bytes: %d\n", last.incrBytes)
	fmt.Printf("restore_download_bytes: %d\n", last.restoreBytes)
	fmt.Printf("restore_reported_bytes: %d  (br's summary line)\n", last.restoreReported)
	for _, s := range series {
		fmt.Printf("write_stall_ms_%s: %d\n", s.label, s.stall.Milliseconds())
	}
	for _, s := range series {
		fmt.Printf("cut_ms_%s: %d\n", s.label, s.cut.Milliseconds())
	}
	fmt.Printf("cut_ratio_20x_vs_1x: %.2f\n", series[2].cut.Seconds()/max(series[0].cut.Seconds(), 1e-6))
	fmt.Printf("write_stall_ms_max: %d\n", stallMax.Milliseconds())
	fmt.Printf("br_rss_mib_max: %.0f\n", mib(brMax))
	fmt.Printf("agent_rss_mib_max: %.0f\n", mib(agentMax))
	if p, err := plotRuns(t, runs); err != nil {
		t.Errorf("plot: %v", err)
	} else {
		fmt.Printf("plot: %s\n", p)
	}
}

func mb(n int64) float64          { return float64(n) / 1e6 }
func mib(k int64) float64         { return float64(k) / 1024 }
func secs(d time.Duration) string { return d.Round(time.Millisecond).String() }

// printSizeRun prints one size's figures as soon as they are measured (a
// long run shows its progress).
func printSizeRun(r sizeRun) {
	fmt.Printf("[%s] %d vertices, %s logical, %s of tables loaded in %s; full %s, rclone up %s, restore %s (download %s), rclone down %s + services restart %s; "+
		"1%% change (%s) through graphd %s, incremental %s (%s); stall %d ms, cut %d ms; br RSS %.0f MiB, agent RSS %.0f MiB\n",
		r.label, r.vertices, humanize.Bytes(uint64(r.logical)), humanize.Bytes(uint64(r.ckBytes)), secs(r.load), secs(r.full), secs(r.rcUp),
		secs(r.restore), secs(r.transfer), secs(r.rcDown), secs(r.restart), humanize.Bytes(uint64(r.changeBytes)), secs(r.change), secs(r.incr),
		humanize.Bytes(uint64(r.incrBytes)), r.stall.Milliseconds(), r.cut.Milliseconds(), mib(r.brRSS), mib(r.agentRSS))
}

// brBenchAt runs one size: source 127.0.20.10-12, target 127.0.20.20-22,
// both removed at the end, with the size's objects in MinIO.
func brBenchAt(t *testing.T, srv *miniotest.Server, bucket, size string) sizeRun {
	ctx := context.Background()
	logical, _ := humanize.ParseBytes(size)
	spec := bulkload.Spec{Space: "b", Parts: 12, Fanout: 3, NameBytes: 100}
	spec.Vertices = max(int64(logical)/int64(bulkload.BytesPerVertex(spec)), 1)
	r := sizeRun{label: size, logical: spec.Vertices * int64(bulkload.BytesPerVertex(spec)), vertices: spec.Vertices}
	env := []string{"AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + srv.SecretKey}
	s3 := []string{"--s3.endpoint", srv.Endpoint, "--s3.region", "us-east-1"}
	rcEnv := []string{"RCLONE_CONFIG_M_TYPE=s3", "RCLONE_CONFIG_M_PROVIDER=Minio", "RCLONE_CONFIG_M_ENDPOINT=" + srv.Endpoint,
		"RCLONE_CONFIG_M_ACCESS_KEY_ID=" + srv.AccessKey, "RCLONE_CONFIG_M_SECRET_ACCESS_KEY=" + srv.SecretKey, "RCLONE_CONFIG_M_REGION=us-east-1"}
	brBin, rclone := repoBin(t, "br"), repoBin(t, "rclone")
	prefix := "br-" + size
	storage := append([]string{"--storage", "s3://" + bucket + "/" + prefix}, s3...)
	var progress io.Writer = io.Discard
	if os.Getenv("NEBULA_BENCH_VERBOSE") != "" {
		progress = os.Stdout
	}

	src := benchCluster(t, "127.0.20.10", 3)
	res, err := bulkload.Load(ctx, src, spec, progress)
	if err != nil {
		t.Fatal(err)
	}
	r.load = res.Elapsed
	fmt.Printf("[%s] loaded %d vertices (%s logical, %s of tables) in %s\n", size, spec.Vertices, humanize.Bytes(uint64(r.logical)),
		humanize.IBytes(uint64(res.Bytes)), secs(res.Elapsed))

	// br backup full.
	stopPerf := perfRecord(t, "full-"+size)
	out, full, rss := runRSS(t, env, brBin, append([]string{"backup", "full", "--meta", src.MetaAddr()}, storage...)...)
	stopPerf()
	r.full, r.brRSS = full, rss
	fullName := nameRE.FindString(out)
	fmt.Printf("[%s] br backup full: %s\n", size, secs(full))

	// rclone copy of the same checkpoint files: cut a snapshot and copy
	// every host's checkpoint, the three copies in parallel as br's agents do.
	m, err := client.NewMetaClient(src.MetaAddr(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	bm, err := m.CreateBackup(ctx, nil, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, sb := range bm.SpaceBackups {
		for _, hb := range sb.HostBackups {
			for _, cp := range hb.Checkpoints {
				dirs = append(dirs, filepath.Join(string(cp.DataPath), "data"))
			}
		}
	}
	for _, d := range dirs {
		r.ckBytes += dirSize(d)
	}
	parallel := func(fn func(i int)) time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		for i := range dirs {
			wg.Add(1)
			go func() { defer wg.Done(); fn(i) }()
		}
		wg.Wait()
		return time.Since(start)
	}
	rcRoot := fmt.Sprintf("m:%s/rclone-%s", bucket, size)
	r.rcUp = parallel(func(i int) {
		run(t, rcEnv, rclone, "copy", "--transfers", "4", dirs[i], fmt.Sprintf("%s/%d", rcRoot, i))
	})
	m.DropSnapshot(ctx, []string{string(bm.BackupName)})
	back := t.TempDir()
	r.rcDown = parallel(func(i int) {
		run(t, rcEnv, rclone, "copy", "--transfers", "4", fmt.Sprintf("%s/%d", rcRoot, i), filepath.Join(back, fmt.Sprint(i)))
	})
	os.RemoveAll(back)
	run(t, rcEnv, rclone, "purge", rcRoot)
	fmt.Printf("[%s] rclone up %s, down %s (%s)\n", size, secs(r.rcUp), secs(r.rcDown), humanize.Bytes(uint64(r.ckBytes)))

	// br restore of the full backup into a second cluster, then the
	// peer's other half: a restart of that cluster's services.
	dst := benchCluster(t, "127.0.20.20", 3)
	restoreLog := filepath.Join(t.TempDir(), "restore.log")
	stopPerf = perfRecord(t, "restore-"+size)
	out, restore, rss := runRSS(t, env, brBin, append([]string{"restore", "full", "--log", restoreLog, "--name", fullName, "--meta", dst.MetaAddr()}, storage...)...)
	stopPerf()
	r.restore, r.brRSS = restore, max(r.brRSS, rss)
	r.transfer = downloadTime(restoreLog)
	r.restoreReported = restoredBytes(out)
	r.restart = restartServices(t, dst)
	r.agentRSS = agentsPeakRSS(t, dst)
	if err := dst.Purge(); err != nil {
		t.Error(err)
	}
	fmt.Printf("[%s] br restore %s, services restart %s\n", size, secs(r.restore), secs(r.restart))

	// 1% of the data rewritten through graphd (its WAL, as real writes),
	// then an incremental backup.
	r.change, r.changeBytes = rewrite(t, src, spec, r.logical/100)
	incrLog := filepath.Join(t.TempDir(), "incr.log")
	out, incr, rss := runRSS(t, env, brBin, append([]string{"backup", "incr", "--log", incrLog, "--meta", src.MetaAddr()}, storage...)...)
	r.incr, r.brRSS = incr, max(r.brRSS, rss)
	incrName := nameRE.FindString(out)
	if os.Getenv("NEBULA_BENCH_VERBOSE") != "" {
		for _, l := range []string{restoreLog, incrLog} {
			b, _ := os.ReadFile(l)
			fmt.Printf("%s", b)
		}
	}

	// The stall writers see while metad cuts a full backup's snapshot
	// (BLOCK_ON on every host, which flushes first, each host's checkpoint
	// as soon as it is blocked, BLOCK_OFF once every host is), and the
	// slowest host's checkpoint under the block.
	r.stall = worstWrite(t, graph(t, src), "b", "p(name, n)", func() {
		bm, err := m.CreateBackup(ctx, nil, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		m.DropSnapshot(ctx, []string{string(bm.BackupName)})
	})
	r.cut = cutHosts(t, src.StorageAddrs(), res.SpaceID, "BENCH_CUT")

	mc, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	for obj := range mc.ListObjects(ctx, bucket, listOpts(prefix+"/")) {
		name, _, _ := strings.Cut(strings.TrimPrefix(obj.Key, prefix+"/"), "/")
		switch name {
		case fullName:
			r.fullBytes += obj.Size
			r.restoreBytes += obj.Size
		case incrName:
			r.incrBytes += obj.Size
		}
	}
	r.agentRSS = max(r.agentRSS, agentsPeakRSS(t, src))
	if err := src.Purge(); err != nil {
		t.Error(err)
	}
	run(t, rcEnv, rclone, "purge", fmt.Sprintf("m:%s/%s", bucket, prefix))
	return r
}

// rewrite overwrites vertices 0, 1, ... of spec's graph through graphd
// (4 sessions, 100 vertices per INSERT), each with a name that makes it
// as large as a vertex and its edges, until about bytes are written. It
// returns how long that took and the bytes written.
func rewrite(t *testing.T, c *cluster.Cluster, spec bulkload.Spec, bytes int64) (time.Duration, int64) {
	t.Helper()
	per := bulkload.BytesPerVertex(spec)
	nameLen := max(per-(bulkload.BytesPerVertex(bulkload.Spec{NameBytes: 1})-1), 1)
	n := min(max(bytes/int64(per), 1), spec.Vertices)
	eventuallyExec(t, graph(t, c), `USE b; INSERT VERTEX p(name, n) VALUES 0:("x", 0)`)
	const batch = 100
	jobs := make(chan int64)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < 4; w++ {
		g := graph(t, c)
		if _, err := g.Execute(context.Background(), "USE b"); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := mrand.New(mrand.NewPCG(uint64(w), 1))
			name := make([]byte, nameLen)
			var sb strings.Builder
			for lo := range jobs {
				sb.Reset()
				sb.WriteString("INSERT VERTEX p(name, n) VALUES ")
				for i := lo; i < min(lo+batch, n); i++ {
					for j := range name {
						name[j] = 'a' + byte(rnd.IntN(26))
					}
					if i > lo {
						sb.WriteByte(',')
					}
					fmt.Fprintf(&sb, `%d:("%s", %d)`, i, name, -i)
				}
				if _, err := g.Execute(context.Background(), sb.String()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for lo := int64(0); lo < n; lo += batch {
		jobs <- lo
	}
	close(jobs)
	wg.Wait()
	return time.Since(start), n * int64(per)
}

// restartServices stops every service of c (graphd, storaged, then metad,
// each role on every host in parallel) and starts them again in the
// opposite order, until the cluster is ready: what a copy of the files
// back into place needs besides the copy (metad's data is restored too),
// and what br's restore does between its stop and start steps.
func restartServices(t *testing.T, c *cluster.Cluster) time.Duration {
	t.Helper()
	start := time.Now()
	each := func(role string, fn func(int, string) error) {
		var wg sync.WaitGroup
		for i, h := range c.Hosts {
			if !slices.ContainsFunc(h.Services, func(s cluster.Service) bool { return s.Role == role }) {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := fn(i, role); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	for _, role := range slices.Backward(cluster.Roles) {
		each(role, c.StopService)
	}
	for _, role := range cluster.Roles {
		each(role, c.StartService)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := c.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

// agentsPeakRSS is the largest peak resident set (VmHWM, KiB) of c's
// agents, read while they still run.
func agentsPeakRSS(t *testing.T, c *cluster.Cluster) int64 {
	var worst int64
	for i := range c.Hosts {
		pid := c.AgentRunning(i)
		if pid == 0 {
			t.Errorf("agent of host %s is not running", c.Hosts[i].IP)
			continue
		}
		worst = max(worst, peakRSS(pid))
	}
	return worst
}

// peakRSS reads a process's VmHWM (KiB) from /proc.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

var restoredRE = regexp.MustCompile(`restore of \S+ (?:resumed and )?done \(chain [^)]*\): ([0-9.]+ [KMGTPE]?i?B) in \d+ files`)

// restoredBytes is what br's summary line says the restore downloaded.
func restoredBytes(out string) int64 {
	m := restoredRE.FindStringSubmatch(out)
	if m == nil {
		return 0
	}
	n, _ := humanize.ParseBytes(m[1])
	return int64(n)
}

// stallPoint is the write stall and cut on one host at a multiple of the
// data.
type stallPoint struct {
	label, size string
	stall, cut  time.Duration
}

// stallSeries measures, on a 1-host cluster bulk-loaded with 1x (50 MB
// logical), 4x and 20x the data, the longest write during a full backup
// (to a local directory) and the checkpoint cut under BLOCK_ON.
func stallSeries(t *testing.T) []stallPoint {
	var out []stallPoint
	for i, p := range []stallPoint{{label: "1x", size: "50M"}, {label: "4x", size: "200M"}, {label: "20x", size: "1G"}} {
		c := benchCluster(t, fmt.Sprintf("127.0.20.%d", 30+i), 1)
		logical, _ := humanize.ParseBytes(p.size)
		spec := bulkload.Spec{Space: "b", Parts: 6, Fanout: 3, NameBytes: 100}
		spec.Vertices = int64(logical) / int64(bulkload.BytesPerVertex(spec))
		res, err := bulkload.Load(context.Background(), c, spec, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		g := graph(t, c)
		eventuallyExec(t, g, `USE b; INSERT VERTEX p(name, n) VALUES 0:("x", 0)`)
		dir := t.TempDir()
		p.stall = worstWrite(t, g, "b", "p(name, n)", func() {
			run(t, nil, repoBin(t, "br"), "backup", "full", "--meta", c.MetaAddr(), "--storage", "local://"+dir)
		})
		os.RemoveAll(dir)
		p.cut = cutHosts(t, c.StorageAddrs(), res.SpaceID, "BENCH_CUT")
		if err := c.Purge(); err != nil {
			t.Error(err)
		}
		fmt.Printf("[stall %s] %s logical on 1 host: write stall %d ms, cut %d ms\n", p.label, p.size, p.stall.Milliseconds(), p.cut.Milliseconds())
		out = append(out, p)
	}
	return out
}

// perfRecord, with NEBULA_BENCH_PERF set, profiles the whole machine
// (perf record -a -g, every process: br, the agents, their export and
// playback processes, the services, MinIO) until the returned function is
// called, into .cache/bench/perf-NAME.data (read with `perf report -i FILE
// --sort comm,dso,sym`). Other load on the machine shows too.
func perfRecord(t *testing.T, name string) func() {
	if os.Getenv("NEBULA_BENCH_PERF") == "" {
		return func() {}
	}
	out := filepath.Join(filepath.Dir(filepath.Dir(repoBin(t, "br"))), ".cache", "bench", "perf-"+name+".data")
	os.MkdirAll(filepath.Dir(out), 0o755)
	cmd := exec.Command("perf", "record", "-a", "-g", "-F", "199", "-o", out)
	if err := cmd.Start(); err != nil {
		t.Logf("perf record: %v", err)
		return func() {}
	}
	time.Sleep(500 * time.Millisecond) // perf is recording
	return func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		fmt.Printf("perf profile: %s\n", out)
	}
}

// plotRuns draws time against data size for br and its peers into
// .cache/bench/bench-report.png under the repository root.
func plotRuns(t *testing.T, runs []sizeRun) (string, error) {
	root := filepath.Dir(filepath.Dir(repoBin(t, "br")))
	path := filepath.Join(root, ".cache", "bench", "bench-report.png")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	p := plot.New()
	p.Title.Text = "br against rclone, 3 storage hosts, MinIO on loopback"
	p.X.Label.Text = "data size (GB, logical)"
	p.Y.Label.Text = "time (s)"
	p.Legend.Top, p.Legend.Left = true, true
	series := []struct {
		name string
		d    func(r sizeRun) time.Duration
	}{
		{"br backup full", func(r sizeRun) time.Duration { return r.full }},
		{"rclone copy up", func(r sizeRun) time.Duration { return r.rcUp }},
		{"br restore full", func(r sizeRun) time.Duration { return r.restore }},
		{"rclone copy down + services restart", func(r sizeRun) time.Duration { return r.rcDown + r.restart }},
		{"br backup incr (1% changed)", func(r sizeRun) time.Duration { return r.incr }},
	}
	var args []any
	for _, s := range series {
		pts := make(plotter.XYs, len(runs))
		for i, r := range runs {
			pts[i].X, pts[i].Y = float64(r.logical)/1e9, s.d(r).Seconds()
		}
		args = append(args, s.name, pts)
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return "", err
	}
	p.X.Min, p.Y.Min = 0, 0
	p.X.Max = float64(runs[len(runs)-1].logical) / 1e9 * 1.05
	if err := p.Save(8*vg.Inch, 5*vg.Inch, path); err != nil {
		return "", err
	}
	return path, nil
}

// worstWrite writes single vertices into space one after the other (tag
// and two properties, a string and an int, as "blob(data, n)") while during
// runs (from 300 ms before to 300 ms after) and returns the longest a write
// took: the write stall during runs.
func worstWrite(t *testing.T, w *client.GraphClient, space, tag string, during func()) time.Duration {
	t.Helper()
	if _, err := w.Execute(context.Background(), "USE "+space); err != nil {
		t.Fatal(err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	var worst time.Duration
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			t0 := time.Now()
			if _, err := w.Execute(context.Background(), fmt.Sprintf(`INSERT VERTEX %s VALUES %d:("w", %d)`, tag, 1<<40+i, i)); err != nil {
				t.Error(err)
				return
			}
			worst = max(worst, time.Since(t0))
		}
	}()
	time.Sleep(300 * time.Millisecond)
	during()
	time.Sleep(300 * time.Millisecond)
	close(stop)
	<-done
	return worst
}

func humanMB(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

func rateMB(n int64, d time.Duration) string {
	return fmt.Sprintf("%.0f MB/s", float64(n)/1e6/d.Seconds())
}

func listOpts(prefix string) minio.ListObjectsOptions {
	return minio.ListObjectsOptions{Prefix: prefix, Recursive: true}
}

// downloadTime reads br's log of a restore and returns the time from the
// lease being taken (the checks done) to the end of step data (every
// host's share downloaded beside its data): the restore's transfer.
func downloadTime(log string) time.Duration {
	b, err := os.ReadFile(log)
	if err != nil {
		return 0
	}
	at := func(re string) time.Time {
		m := regexp.MustCompile(`(?m)^time=(\S+) .*` + re).FindSubmatch(b)
		if m == nil {
			return time.Time{}
		}
		ts, _ := time.Parse(time.RFC3339Nano, string(m[1]))
		return ts
	}
	from, to := at(`msg="lease taken"`), at(`msg="step done" step="[0-9]+ \(data\)"`)
	if from.IsZero() || to.Before(from) {
		return 0
	}
	return to.Sub(from)
}
