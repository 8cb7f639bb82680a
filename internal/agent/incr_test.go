package agent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/nebula-open/nebula-br/internal/agent"
	"github.com/nebula-open/nebula-br/internal/agent/pb"
	"github.com/nebula-open/nebula-br/internal/lite/wal"
)

// buildWAL writes entries 1..n with 200-byte payloads into a WAL whose
// files hold a few entries each, and returns its files.
func buildWAL(t *testing.T, dir string, n uint64) []wal.FileInfo {
	t.Helper()
	w, err := wal.Open(dir, wal.Options{FileSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for id := uint64(1); id <= n; id++ {
		if err := w.Append(wal.Entry{LogID: id, Term: 1, Payload: make([]byte, 200)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := wal.ListFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("want several WAL files, got %d", len(files))
	}
	return files
}

func TestIncrUploadFile(t *testing.T) {
	ctx := context.Background()
	walDir := filepath.Join(t.TempDir(), "checkpoints", "cp", "wal", "7")
	files := buildWAL(t, walDir, 40)
	storeDir := t.TempDir()
	a := startAgent(t, agent.Config{})
	backend := &pb.Backend{Uri: localURI(storeDir)}

	// expected: the files holding ids in (after, upTo].
	expected := func(files []wal.FileInfo, after, upTo uint64) []string {
		var out []string
		for _, f := range files {
			if f.LastLogID > after && (upTo == 0 || f.FirstLogID <= upTo) {
				out = append(out, filepath.Base(f.Path))
			}
		}
		return out
	}
	for i, tc := range []struct{ after, upTo uint64 }{
		{0, 0}, {0, 40}, {3, 17}, {files[2].FirstLogID - 1, files[2].LastLogID}, {12, 13}, {39, 40},
	} {
		prefix := fmt.Sprintf("BACKUP_%d/data/3/7/wal", i)
		sums, err := a.c.IncrUpload(ctx, &pb.IncrUploadFileRequest{
			WalDir: walDir, AfterLogId: int64(tc.after), UpToLogId: int64(tc.upTo), SpaceId: 3, PartId: 7,
			Backend: backend, Prefix: prefix,
		}, nil)
		if err != nil {
			t.Fatalf("(%d, %d]: %v", tc.after, tc.upTo, err)
		}
		var got []string
		for _, s := range sums {
			got = append(got, s.Key)
		}
		if want := expected(files, tc.after, tc.upTo); !reflect.DeepEqual(got, want) {
			t.Errorf("(%d, %d]: uploaded %q, want %q", tc.after, tc.upTo, got, want)
		}
		for _, s := range sums {
			b, err := os.ReadFile(filepath.Join(storeDir, filepath.FromSlash(prefix), s.Key))
			if err != nil {
				t.Fatal(err)
			}
			orig, _ := os.ReadFile(filepath.Join(walDir, s.Key))
			if string(b) != string(orig) || s.Crc32C != crc(orig) || s.Size != int64(len(orig)) {
				t.Errorf("%s: object differs from the WAL file", s.Key)
			}
		}
	}

	// An empty range uploads nothing.
	sums, err := a.c.IncrUpload(ctx, &pb.IncrUploadFileRequest{WalDir: walDir, AfterLogId: 20, UpToLogId: 20, Backend: backend, Prefix: "E"}, nil)
	if err != nil || len(sums) != 0 {
		t.Errorf("empty range: %v, %v", sums, err)
	}
	// Expire the two oldest files (as --wal_ttl does).
	for _, f := range files[:2] {
		if err := os.Remove(f.Path); err != nil {
			t.Fatal(err)
		}
	}
	oldest := files[2].FirstLogID
	_, err = a.c.IncrUpload(ctx, &pb.IncrUploadFileRequest{WalDir: walDir, AfterLogId: 2, UpToLogId: 40, SpaceId: 3, PartId: 7, Backend: backend, Prefix: "X"}, nil)
	wantCode(t, err, codes.FailedPrecondition, fmt.Sprintf(
		"space 3 part 7: WAL entries after log id 2 have expired on %s (oldest kept file starts at %d; see --wal_ttl): take a new full backup",
		a.srv.Addr(), oldest))
	// From the oldest kept entry on, it still works.
	sums, err = a.c.IncrUpload(ctx, &pb.IncrUploadFileRequest{WalDir: walDir, AfterLogId: int64(oldest - 1), SpaceId: 3, PartId: 7, Backend: backend, Prefix: "Y"}, nil)
	if err != nil || len(sums) != len(files)-2 {
		t.Errorf("after the oldest kept id: %d files, %v", len(sums), err)
	}

	_, err = a.c.IncrUpload(ctx, &pb.IncrUploadFileRequest{WalDir: filepath.Join(walDir, "nope"), AfterLogId: 1, UpToLogId: 5, SpaceId: 3, PartId: 7, Backend: backend}, nil)
	wantCode(t, err, codes.NotFound, "space 3 part 7")
	_, err = a.c.IncrUpload(ctx, &pb.IncrUploadFileRequest{WalDir: walDir, AfterLogId: 5, UpToLogId: 1, Backend: backend}, nil)
	wantCode(t, err, codes.InvalidArgument)
}
