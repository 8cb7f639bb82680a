package wal

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// crashEnv, when set, makes TestCrashChild the child process of
// TestCrashRecovery, appending to the WAL in the directory it names.
const crashEnv = "NEBULA_LITE_WAL_CRASH_DIR"

const crashRounds = 20

// crashBase is the byte pattern crash-test payloads are cut from.
var crashBase = func() []byte {
	b := make([]byte, 2<<20)
	for i := range b {
		b[i] = byte(i*131 + i>>11)
	}
	return b
}()

// crashPayload is the payload of entry id in the crash test: mostly small,
// every 20th entry 1 MiB, so that a kill often lands inside a write.
func crashPayload(id uint64) []byte {
	n := id * 7919 % 2000
	if id%20 == 0 {
		n = 1 << 20
	}
	off := id % 4093
	return crashBase[off : off+n]
}

// TestCrashChild appends batches forever, printing "ack <id>" after each
// Append returns. It only runs as the child of TestCrashRecovery.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("helper process of TestCrashRecovery")
	}
	w, err := Open(dir, Options{FileSize: 64 << 20})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		os.Exit(3)
	}
	next := w.NextLogID()
	rng := rand.New(rand.NewPCG(next, 7))
	for {
		n := 1 + rng.Uint64N(16)
		batch := make([]Entry, n)
		for i := range batch {
			id := next + uint64(i)
			batch[i] = Entry{LogID: id, Term: id / 100, Payload: crashPayload(id)}
		}
		if n == 1 {
			err = w.Append(batch[0])
		} else {
			err = w.AppendBatch(batch)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "child: append:", err)
			os.Exit(3)
		}
		next += n
		fmt.Printf("ack %d\n", next-1)
	}
}

// TestCrashRecovery kills a process appending to a WAL with SIGKILL, several
// times, and checks after each kill that reopening recovers every
// acknowledged entry, with contiguous ids.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	dir := t.TempDir()
	var acked uint64
	torn := 0
	for round := 0; round < crashRounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acks := make(chan uint64, 64)
		go func() {
			defer close(acks)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if v, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
					if n, err := strconv.ParseUint(v, 10, 64); err == nil {
						acks <- n
					}
				}
			}
		}()

		// Let the child make progress, then kill it at a random moment.
		start := acked
		timeout := time.After(60 * time.Second)
	progress:
		for acked < start+100 {
			select {
			case n, ok := <-acks:
				if !ok {
					break progress
				}
				acked = n
			case <-timeout:
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("round %d: no progress; child stderr:\n%s", round, stderr.String())
			}
		}
		time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond)
		cmd.Process.Kill()
		for n := range acks { // the pipe closes when the child is gone
			acked = n
		}
		cmd.Wait()
		if cmd.ProcessState.Exited() {
			t.Fatalf("round %d: child exited by itself (%v); stderr:\n%s", round, cmd.ProcessState, stderr.String())
		}

		w, err := Open(dir, Options{FileSize: 64 << 20, Logf: func(format string, _ ...any) {
			if strings.Contains(format, "torn tail") {
				torn++
			}
		}})
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		last := w.LastLogID()
		if last < acked {
			t.Fatalf("round %d: LastLogID %d, but %d was acknowledged", round, last, acked)
		}
		want := uint64(1)
		err = w.Iterate(0, func(e Entry) error {
			if e.LogID != want {
				return fmt.Errorf("log id %d where %d was expected", e.LogID, want)
			}
			if e.Term != e.LogID/100 || !bytes.Equal(e.Payload, crashPayload(e.LogID)) {
				return fmt.Errorf("entry %d has the wrong content", e.LogID)
			}
			want++
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if want-1 != last {
			t.Fatalf("round %d: iterated up to %d, LastLogID %d", round, want-1, last)
		}
		closeT(t, w)
		acked = last
	}
	t.Logf("%d entries after %d kills; %d recoveries truncated a torn tail", acked, crashRounds, torn)
}
