package objstore_test

import (
	"context"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/objstore"
	"github.com/nebula-open/nebula-br/internal/objstore/miniotest"
)

// TestS3Over5GiB puts an object larger than S3's 5 GiB single-request
// limit, of known and of unknown size, generated as it is sent (nothing of
// it is held in memory or written locally), and reads it back for its
// CRC-32C. Minutes of work: `make bench` runs it (NEBULA_BENCH=1).
func TestS3Over5GiB(t *testing.T) {
	if os.Getenv("NEBULA_BENCH") == "" {
		t.Skip("uploads 2 x 5 GiB: run by `make bench` (NEBULA_BENCH=1)")
	}
	srv := miniotest.Start(t) // its own data directory, removed at the end
	s := openS3(t, "s3://"+srv.Bucket(t, "over5gib")+"/p", srv.Config())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	const size = 5<<30 + 16<<20 + 12345 // a short last part too
	for _, known := range []bool{true, false} {
		putSize, key := int64(size), "known.sst"
		if !known {
			putSize, key = -1, "streamed.sst"
		}
		gen := newGenerated(9, size)
		start := time.Now()
		if err := s.Put(ctx, key, gen, putSize); err != nil {
			t.Fatalf("Put of %d bytes (size %d): %v", int64(size), putSize, err)
		}
		put := time.Since(start)
		if gen.n != 0 {
			t.Fatalf("Put read %d bytes of %d", size-gen.n, int64(size))
		}
		start = time.Now()
		n, crc, err := objstore.Checksum(ctx, s, key)
		if err != nil {
			t.Fatal(err)
		}
		get := time.Since(start)
		if n != size || crc != gen.crc {
			t.Fatalf("%s read back: %d bytes, CRC-32C %08x; sent %d bytes, %08x", key, n, crc, int64(size), gen.crc)
		}
		t.Logf("%s: %d bytes (size given %d) put in %v (%.0f MB/s), read back in %v (%.0f MB/s)", key, n, putSize,
			put.Round(time.Second), float64(size)/put.Seconds()/1e6, get.Round(time.Second), float64(size)/get.Seconds()/1e6)
		if err := s.Delete(ctx, key); err != nil { // free the disk
			t.Fatal(err)
		}
	}
}

// generated is n deterministic pseudo-random bytes and their CRC-32C.
type generated struct {
	r   *rand.ChaCha8
	n   int64
	crc uint32
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func newGenerated(seed byte, n int64) *generated {
	var s [32]byte
	s[0] = seed
	return &generated{r: rand.NewChaCha8(s), n: n}
}

func (g *generated) Read(p []byte) (int, error) {
	if g.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.n {
		p = p[:g.n]
	}
	n, _ := g.r.Read(p)
	g.n -= int64(n)
	g.crc = crc32.Update(g.crc, castagnoli, p[:n])
	return n, nil
}
