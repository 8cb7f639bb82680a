package agent_test

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/nebula-open/nebula-br/internal/agent"
	"github.com/nebula-open/nebula-br/internal/agent/pb"
	upb "github.com/nebula-open/nebula-br/internal/agent/upstreampb"
	"github.com/nebula-open/nebula-br/internal/objstore"
	"github.com/nebula-open/nebula-br/internal/objstore/gcstest"
)

const gsCreds = `{"type": "service_account", "client_email": "x@p.iam.gserviceaccount.com",
 "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7gsSECRETLINE\n-----END PRIVATE KEY-----\n"}`

func TestRedactGS(t *testing.T) {
	b := &pb.Backend{Uri: "gs://bucket/p", GsCredentials: gsCreds, GsEndpoint: "http://127.0.0.1:4443"}
	red := agent.Redact(&pb.UploadFileRequest{Backend: b, SourcePath: "/x"}).(*pb.UploadFileRequest)
	if red.Backend.GsCredentials != agent.Redacted || red.Backend.GsEndpoint != b.GsEndpoint || red.Backend.Uri != b.Uri {
		t.Errorf("redacted backend %v", red.Backend)
	}
	if r := agent.RedactBackend(b); r.GsCredentials != agent.Redacted || b.GsCredentials != gsCreds {
		t.Errorf("RedactBackend: %v (original %v)", r, b)
	}
	up := &upb.UploadFileRequest{TargetBackend: &upb.Backend{Storage: &upb.Backend_Gs{Gs: &upb.GS{Bucket: "b", Path: "p", Credentials: gsCreds}}}}
	if red := agent.Redact(up).(*upb.UploadFileRequest); red.TargetBackend.GetGs().Credentials != agent.Redacted || red.TargetBackend.GetGs().Bucket != "b" {
		t.Errorf("redacted upstream GS %v", red.TargetBackend)
	}
	secrets := agent.GSSecrets(gsCreds)
	if !reflect.DeepEqual(secrets[0], gsCreds) || !strings.Contains(strings.Join(secrets, " "), "C7gsSECRETLINE") {
		t.Errorf("GSSecrets = %q", secrets)
	}
}

// Uploads and downloads through gs://, by our API and by nebula-agent's
// (whose GS message carries bucket, path and key; the endpoint comes from
// STORAGE_EMULATOR_HOST), with a service account key that never shows in
// the agent's log or errors.
func TestGSTransfers(t *testing.T) {
	ctx := context.Background()
	srv := gcstest.Shared(t)
	auth := gcstest.NewAuth(t, srv)
	creds := string(auth.ServiceAccount(t, "agent@nebula-br-test.iam.gserviceaccount.com"))
	bucket := srv.Bucket(t, "agent")
	src := filepath.Join(t.TempDir(), "checkpoint")
	want := makeTree(t, src, false)

	for _, api := range []string{"ours", "upstream"} {
		t.Run(api, func(t *testing.T) {
			backend := &pb.Backend{Uri: "gs://" + bucket + "/" + api, GsCredentials: creds, GsEndpoint: auth.Endpoint}
			cfg := agent.Config{}
			if api == "upstream" {
				t.Setenv("STORAGE_EMULATOR_HOST", auth.Endpoint)
				backend.GsEndpoint = ""
				cfg.UpstreamOnly = true
			}
			a := startAgent(t, cfg)
			if a.c.Upstream() != (api == "upstream") {
				t.Fatalf("the client takes the agent for one offering %s API", map[bool]string{true: "only nebula-agent's", false: "ours"}[a.c.Upstream()])
			}
			before := auth.Requests()
			sums, err := a.c.Upload(ctx, &pb.UploadFileRequest{SourcePath: src, Backend: backend, Prefix: "B/data/1", Concurrency: 3}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(sums) != len(want) {
				t.Fatalf("uploaded %d files, want %d", len(sums), len(want))
			}
			for _, s := range sums {
				if b := want[s.Key]; s.Size != int64(len(b)) || s.Crc32C != crc(b) {
					t.Errorf("%s: size %d crc %08x, want %d %08x", s.Key, s.Size, s.Crc32C, len(b), crc(b))
				}
			}
			dst := t.TempDir()
			if err := a.c.Download(ctx, &pb.DownloadFileRequest{Backend: backend, Prefix: "B/data/1", TargetPath: dst, Files: sums, Concurrency: 3}, nil); err != nil {
				t.Fatal(err)
			}
			if back := readTree(t, dst); !reflect.DeepEqual(back, want) {
				t.Fatalf("downloaded %q, want %q", keys(back), keys(want))
			}
			if auth.Requests() == before {
				t.Fatal("no request went through the token check")
			}

			// A key the token endpoint refuses: the error says so, without it.
			bad := proto.Clone(backend).(*pb.Backend)
			bad.GsCredentials = string(auth.ForeignKey(t, "agent@nebula-br-test.iam.gserviceaccount.com"))
			_, err = a.c.Upload(ctx, &pb.UploadFileRequest{SourcePath: src, Backend: bad, Prefix: "C"}, nil)
			if err == nil || !strings.Contains(err.Error(), "rejected by the token endpoint") {
				t.Fatalf("upload with an unknown key: %v", err)
			}
			logs := a.logs.String()
			for _, s := range append(objstore.GSSecrets(creds), objstore.GSSecrets(bad.GsCredentials)...) {
				if strings.Contains(err.Error(), s) {
					t.Errorf("the error shows the key: %v", err)
				}
				if strings.Contains(logs, s) {
					t.Errorf("the agent's log shows the key")
				}
			}
		})
	}
}

// nebula-agent's GS without a bucket is refused as such.
func TestUpstreamGSWithoutBucket(t *testing.T) {
	a := startAgent(t, agent.Config{UpstreamOnly: true})
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), 100, 1)
	_, err := a.c.Upload(context.Background(), &pb.UploadFileRequest{SourcePath: dir, Backend: &pb.Backend{Uri: "gs:///p", GsCredentials: gsCreds}, Prefix: "x"}, nil)
	wantCode(t, err, codes.InvalidArgument, "gs backend without a bucket")
	if strings.Contains(err.Error(), "C7gsSECRETLINE") {
		t.Errorf("the error shows the key: %v", err)
	}
}
