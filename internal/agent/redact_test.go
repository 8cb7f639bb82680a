package agent_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/nebula-open/nebula-br/internal/agent"
	"github.com/nebula-open/nebula-br/internal/agent/pb"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

const (
	accessKey = "AKIATESTACCESSKEY0042"
	secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
)

func TestRedact(t *testing.T) {
	req := &pb.DownloadFileRequest{
		Backend:    &pb.Backend{Uri: "s3://bucket/p", S3AccessKey: accessKey, S3SecretKey: secretKey, S3Region: "us-east-1"},
		TargetPath: "/data",
	}
	for i := range 10 {
		req.Files = append(req.Files, &pb.FileSum{Key: fmt.Sprintf("f%d", i)})
	}
	orig := proto.Clone(req)
	red := agent.Redact(req).(*pb.DownloadFileRequest)
	if red.Backend.S3AccessKey != agent.Redacted || red.Backend.S3SecretKey != agent.Redacted ||
		red.Backend.Uri != "s3://bucket/p" || red.Backend.S3Region != "us-east-1" {
		t.Errorf("redacted backend %v", red.Backend)
	}
	if len(red.Files) != 3 {
		t.Errorf("a log shows %d files, want the first 3", len(red.Files))
	}
	if !proto.Equal(req, orig) {
		t.Error("Redact changed its argument")
	}
	if b := agent.RedactBackend(req.Backend); b.S3SecretKey != agent.Redacted || req.Backend.S3SecretKey != secretKey {
		t.Errorf("RedactBackend: %v (original %v)", b, req.Backend)
	}
	if b := agent.RedactBackend(&pb.Backend{Uri: "local:///x"}); b.S3AccessKey != "" || b.S3SecretKey != "" {
		t.Errorf("unset keys must stay unset: %v", b)
	}
}

func TestSecretsNeverLogged(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "a", "b"), 3000, 1)
	storeDir := t.TempDir()
	backend := &pb.Backend{Uri: localURI(storeDir), S3AccessKey: accessKey, S3SecretKey: secretKey}
	leakyErr := fmt.Errorf("auth failed with %s:%s", accessKey, secretKey)
	mode := "ok"
	open := func(ctx context.Context, uri string, cfg objstore.Config) (objstore.Store, error) {
		switch mode {
		case "open":
			return nil, leakyErr
		case "put":
			return &trackingStore{Store: openLocal(t, storeDir), err: leakyErr, fails: map[string]int{"L/a/b": -1}}, nil
		}
		return objstore.Open(ctx, uri, cfg)
	}
	a := startAgent(t, agent.Config{Open: open, RetryBackoff: []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}})

	var errs []error
	check := func(what string, err error) {
		t.Helper()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	sums, err := a.c.Upload(ctx, &pb.UploadFileRequest{SourcePath: src, Backend: backend, Prefix: "L"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	check("download", a.c.Download(ctx, &pb.DownloadFileRequest{Backend: backend, Prefix: "L", TargetPath: t.TempDir(), Files: sums}, nil))
	check("download missing", a.c.Download(ctx, &pb.DownloadFileRequest{Backend: backend, Prefix: "NOPE", TargetPath: t.TempDir(), Files: sums}, nil))
	_, err = a.c.IncrUpload(ctx, &pb.IncrUploadFileRequest{WalDir: src, AfterLogId: 1, UpToLogId: 9, Backend: backend, Prefix: "W"}, nil)
	check("incr", err)

	mode = "open"
	_, err = a.c.Upload(ctx, &pb.UploadFileRequest{SourcePath: src, Backend: backend, Prefix: "L"}, nil)
	if err == nil {
		t.Fatal("open failure: want an error")
	}
	check("open", err)
	mode = "put"
	_, err = a.c.Upload(ctx, &pb.UploadFileRequest{SourcePath: src, Backend: backend, Prefix: "L"}, nil)
	if err == nil {
		t.Fatal("put failure: want an error")
	}
	check("put", err)

	// The real S3 code against an endpoint that is not there.
	mode = "ok"
	s3 := &pb.Backend{Uri: "s3://no-bucket/x", S3AccessKey: accessKey, S3SecretKey: secretKey, S3Endpoint: "http://127.0.0.1:1", S3Region: "us-east-1"}
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_, err = a.c.Upload(tctx, &pb.UploadFileRequest{SourcePath: src, Backend: s3, Prefix: "L"}, nil)
	if err == nil {
		t.Fatal("upload to a dead endpoint: want an error")
	}
	check("s3", err)
	check("s3 download", a.c.Download(tctx, &pb.DownloadFileRequest{Backend: s3, TargetPath: t.TempDir(), Files: sums}, nil))

	logs := a.logs.String()
	if !strings.Contains(logs, agent.Redacted) {
		t.Error("requests with keys are not logged redacted")
	}
	for _, secret := range []string{accessKey, secretKey} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds a key:\n%s", logs)
		}
		for _, e := range errs {
			if strings.Contains(e.Error(), secret) {
				t.Errorf("an error holds a key: %v", e)
			}
			var ae interface{ Unwrap() error }
			if errors.As(e, &ae) && strings.Contains(fmt.Sprint(ae.Unwrap()), secret) {
				t.Errorf("a wrapped error holds a key: %v", ae.Unwrap())
			}
		}
	}
	t.Logf("%d errors checked; e.g. %v", len(errs), errs[len(errs)-1])
}
