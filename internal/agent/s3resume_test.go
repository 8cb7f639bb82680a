package agent_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nebula-open/nebula-br/internal/agent"
	"github.com/nebula-open/nebula-br/internal/agent/pb"
	"github.com/nebula-open/nebula-br/internal/objstore"
	"github.com/nebula-open/nebula-br/internal/objstore/miniotest"
)

// A file whose S3 upload fails part-way (the server refuses one part until
// the store's own retries are spent) is retried by the agent, and the
// retry sends only that part: the others stored by the failed attempt are
// kept, and the object is the file.
func TestUploadS3RetryResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("takes seconds")
	}
	srv := miniotest.Start(t)
	bucket := srv.Bucket(t, "agent-resume")
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	const failing, refusals = "3", 4 // minio-go tries a request 4 times (objstore's s3Attempts)
	var mu sync.Mutex
	puts := map[string]int{} // part number -> PUTs that reached MinIO
	refused := 0
	proxy := httputil.NewSingleHostReverseProxy(target)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := r.URL.Query().Get("partNumber"); r.Method == http.MethodPut && n != "" {
			mu.Lock()
			refuse := n == failing && refused < refusals
			if refuse {
				refused++
			} else {
				puts[n]++
			}
			mu.Unlock()
			if refuse {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>injected by the test</Message></Error>`)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	defer hs.Close()

	src := t.TempDir()
	data := writeFile(t, filepath.Join(src, "data.sst"), 80<<20, 5) // 5 parts of 16 MiB
	a := startAgent(t, agent.Config{})
	backend := &pb.Backend{Uri: "s3://" + bucket + "/b", S3Endpoint: hs.URL, S3AccessKey: srv.AccessKey, S3SecretKey: srv.SecretKey, S3Region: "us-east-1"}
	ctx := context.Background()
	sums, err := a.c.Upload(ctx, &pb.UploadFileRequest{SourcePath: filepath.Join(src, "data.sst"), Backend: backend}, nil)
	if err != nil {
		t.Fatalf("upload: %v\nagent log:\n%s", err, a.logs.String())
	}
	if len(sums) != 1 || sums[0].Size != 80<<20 {
		t.Fatalf("sums %v", sums)
	}
	logs := a.logs.String()
	mu.Lock()
	defer mu.Unlock()
	if refused != refusals || !strings.Contains(logs, "retrying file") {
		t.Fatalf("part %s refused %d times, agent log:\n%s", failing, refused, logs)
	}
	for _, n := range []string{"1", "2", "3", "4", "5"} {
		if puts[n] != 1 {
			t.Errorf("part %s reached the server %d times, want once (parts: %v)", n, puts[n], puts)
		}
	}
	if !strings.Contains(logs, `msg="S3 upload resumed" key=data.sst parts_kept=`) {
		t.Errorf("no resume logged:\n%s", logs)
	}
	st, err := objstore.Open(ctx, "s3://"+bucket+"/b", srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	rc, err := st.Get(ctx, "data.sst")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("object: %d bytes, %v; equal to the file: %v", len(got), err, bytes.Equal(got, data))
	}
}
