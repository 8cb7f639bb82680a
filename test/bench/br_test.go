package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

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

// loadPayload writes vertices [from, to) of space b with ~payload random
// bytes each (incompressible, so stored bytes track the data) through 4
// sessions.
func loadPayload(t *testing.T, c *cluster.Cluster, from, to, payload int) {
	loadPayloadInto(t, c, "b", from, to, payload)
}

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
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out), time.Since(start)
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

func TestBRBench(t *testing.T) {
	skipUnlessBench(t)
	const vertices, payload = 200_000, 1000
	srv := miniotest.Start(t)
	bucket := srv.Bucket(t, "bench")
	brBin, rclone := repoBin(t, "br"), repoBin(t, "rclone")
	env := []string{"AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + srv.SecretKey}
	s3 := []string{"--s3.endpoint", srv.Endpoint, "--s3.region", "us-east-1"}
	rcEnv := []string{"RCLONE_CONFIG_M_TYPE=s3", "RCLONE_CONFIG_M_PROVIDER=Minio", "RCLONE_CONFIG_M_ENDPOINT=" + srv.Endpoint,
		"RCLONE_CONFIG_M_ACCESS_KEY_ID=" + srv.AccessKey, "RCLONE_CONFIG_M_SECRET_ACCESS_KEY=" + srv.SecretKey, "RCLONE_CONFIG_M_REGION=us-east-1"}

	src := benchCluster(t, "127.0.0.80", 3)
	g := graph(t, src)
	if _, err := g.Execute(context.Background(), "CREATE SPACE b (partition_num = 12, vid_type = INT64); USE b; CREATE TAG blob(data string, n int)"); err != nil {
		t.Fatal(err)
	}
	loadPayload(t, src, 0, vertices, payload)

	// br backup full.
	storage := append([]string{"--meta", src.MetaAddr(), "--storage", "s3://" + bucket + "/br"}, s3...)
	out, fullTime := run(t, env, brBin, append([]string{"backup", "full"}, storage...)...)
	full := nameRE.FindString(out)

	// rclone copy of the same checkpoint files: cut a snapshot and copy
	// every host's checkpoint, the three copies in parallel as br's agents do.
	m, err := client.NewMetaClient(src.MetaAddr(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	bm, err := m.CreateBackup(context.Background(), nil, "", 0)
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
	var ckBytes int64
	for _, d := range dirs {
		ckBytes += dirSize(d)
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
	rcUp := parallel(func(i int) {
		run(t, rcEnv, rclone, "copy", "--transfers", "4", dirs[i], fmt.Sprintf("m:%s/rclone/%d", bucket, i))
	})
	back := t.TempDir()
	rcDown := parallel(func(i int) {
		run(t, rcEnv, rclone, "copy", "--transfers", "4", fmt.Sprintf("m:%s/rclone/%d", bucket, i), filepath.Join(back, fmt.Sprint(i)))
	})
	m.DropSnapshot(context.Background(), []string{string(bm.BackupName)})

	// br restore of the full backup into a second cluster.
	dst := benchCluster(t, "127.0.0.90", 3)
	restoreLog := filepath.Join(t.TempDir(), "restore.log")
	_, restoreTime := run(t, env, brBin, append([]string{"restore", "full", "--log", restoreLog, "--name", full, "--meta", dst.MetaAddr(), "--storage", "s3://" + bucket + "/br"}, s3...)...)

	// 1% change, then an incremental backup.
	loadPayload(t, src, 0, vertices/100, payload)
	incrLog := filepath.Join(t.TempDir(), "incr.log")
	out, incrTime := run(t, env, brBin, append([]string{"backup", "incr", "--log", incrLog}, storage...)...)
	if os.Getenv("NEBULA_BENCH_VERBOSE") != "" {
		for _, l := range []string{restoreLog, incrLog} {
			b, _ := os.ReadFile(l)
			fmt.Printf("%s", b)
		}
	}
	incr := nameRE.FindString(out)
	sizes := map[string]int64{}
	mc, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	for obj := range mc.ListObjects(context.Background(), bucket, listOpts("br/")) {
		name, _, _ := strings.Cut(strings.TrimPrefix(obj.Key, "br/"), "/")
		sizes[name] += obj.Size
	}

	// Longest write stall during a backup, at 1x and 4x the data.
	stall := func(base string, n int) time.Duration {
		c := benchCluster(t, base, 1)
		g := graph(t, c)
		g.Execute(context.Background(), "CREATE SPACE b (partition_num = 6, vid_type = INT64); USE b; CREATE TAG blob(data string, n int)")
		loadPayload(t, c, 0, n, 200)
		return worstWrite(t, graph(t, c), "b", func() {
			run(t, nil, brBin, "backup", "full", "--meta", c.MetaAddr(), "--storage", "local://"+t.TempDir())
		})
	}
	stall1 := stall("127.0.0.100", 50_000)
	stall4 := stall("127.0.0.104", 200_000)

	fmt.Printf("\nbr benchmark: %d vertices x %d B over 3 storage hosts, checkpoint %s, MinIO on loopback\n", vertices, payload, humanMB(ckBytes))
	fmt.Printf("  br backup full: %s (%s); rclone copy up: %s\n", fullTime.Round(time.Millisecond), rateMB(ckBytes, fullTime), rcUp.Round(time.Millisecond))
	fmt.Printf("  br restore full: %s (%s, incl. stop/start of the target); rclone copy back: %s\n", restoreTime.Round(time.Millisecond), rateMB(ckBytes, restoreTime), rcDown.Round(time.Millisecond))
	fmt.Printf("  incremental after 1%%: %s, %s; full: %s\n", incrTime.Round(time.Millisecond), humanMB(sizes[incr]), humanMB(sizes[full]))
	fmt.Printf("full_backup_vs_rclone: %.2f\n", rcUp.Seconds()/fullTime.Seconds())
	fmt.Printf("restore_vs_rclone: %.2f\n", rcDown.Seconds()/restoreTime.Seconds())
	if d := phase(t, restoreLog, "meta restored", "data downloaded"); d > 0 {
		fmt.Printf("restore_transfer_vs_rclone: %.2f  (download phase only: %s)\n", rcDown.Seconds()/d.Seconds(), d.Round(time.Millisecond))
	}
	fmt.Printf("incr_1pct_bytes_ratio: %.3f\n", float64(sizes[incr])/float64(max(sizes[full], 1)))
	fmt.Printf("incr_1pct_time_ratio: %.3f\n", incrTime.Seconds()/fullTime.Seconds())
	fmt.Printf("write_stall_ms_1x: %d\n", stall1.Milliseconds())
	fmt.Printf("write_stall_ms_4x: %d\n", stall4.Milliseconds())
}

// worstWrite writes single vertices into space (tag blob) one after the
// other while during runs (from 300 ms before to 300 ms after) and returns
// the longest a write took: the write stall during runs.
func worstWrite(t *testing.T, w *client.GraphClient, space string, during func()) time.Duration {
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
			if _, err := w.Execute(context.Background(), fmt.Sprintf(`INSERT VERTEX blob(data, n) VALUES %d:("w", %d)`, 10_000_000+i, i)); err != nil {
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

// phase reads two "elapsed=" marks of br's log and returns the time between.
func phase(t *testing.T, log, from, to string) time.Duration {
	b, err := os.ReadFile(log)
	if err != nil {
		return 0
	}
	mark := func(msg string) time.Duration {
		m := regexp.MustCompile(`msg="` + msg + `".* elapsed=(\S+)`).FindSubmatch(b)
		if m == nil {
			return 0
		}
		d, _ := time.ParseDuration(string(m[1]))
		return d
	}
	return mark(to) - mark(from)
}
