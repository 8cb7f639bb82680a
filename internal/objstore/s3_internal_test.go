package objstore

import (
	"net/url"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
)

func TestBucketLookup(t *testing.T) {
	for ep, want := range map[string]minio.BucketLookupType{
		"https://s3.amazonaws.com":                  minio.BucketLookupDNS,
		"https://s3.eu-west-1.amazonaws.com":        minio.BucketLookupDNS,
		"https://S3.US-EAST-2.AMAZONAWS.COM":        minio.BucketLookupDNS,
		"https://s3.amazonaws.com:443":              minio.BucketLookupPath,
		"http://127.0.0.1:9000":                     minio.BucketLookupPath,
		"https://minio.example.com":                 minio.BucketLookupPath,
		"https://notamazonaws.com":                  minio.BucketLookupPath,
		"https://storage.googleapis.com":            minio.BucketLookupPath,
		"http://[::1]:9000":                         minio.BucketLookupPath,
		"https://bucket.s3.fake-amazonaws.com.evil": minio.BucketLookupPath,
	} {
		u, err := url.Parse(ep)
		if err != nil {
			t.Fatal(err)
		}
		if got := bucketLookup(u); got != want {
			t.Errorf("bucketLookup(%s) = %v, want %v", ep, got, want)
		}
	}
}

func TestS3EndpointForms(t *testing.T) {
	for ep, want := range map[string]string{
		"":                         "https://s3.amazonaws.com",
		"minio:9000":               "https://minio:9000",
		"http://127.0.0.1:9000":    "http://127.0.0.1:9000",
		"http://127.0.0.1:9000/":   "http://127.0.0.1:9000",
		"https://s3.amazonaws.com": "https://s3.amazonaws.com",
		" https://h.example.com ":  "https://h.example.com",
	} {
		s, err := openS3("bucket", "p", S3Config{Endpoint: ep}, nil)
		if err != nil {
			t.Errorf("endpoint %q: %v", ep, err)
			continue
		}
		if s.endpoint != want {
			t.Errorf("endpoint %q shown as %q, want %q", ep, s.endpoint, want)
		}
		if s.URI() != "s3://bucket/p" || !strings.Contains(s.String(), want) {
			t.Errorf("URI %q, String %q", s.URI(), s.String())
		}
	}
}

func TestRedact(t *testing.T) {
	var s secrets
	s.add("AKIAKEY", "", "sekrit", "AKIAKEY")
	if got := s.redact("a AKIAKEY b sekrit c"); got != "a <redacted> b <redacted> c" {
		t.Fatalf("redact = %q", got)
	}
}

// A server that echoes credentials in an unknown error: they are scrubbed.
func TestFailScrubsServerText(t *testing.T) {
	s, err := openS3("bucket", "", S3Config{Endpoint: "http://127.0.0.1:1", AccessKey: "AKIAECHOED", SecretKey: "echoedSecret"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp := minio.ErrorResponse{Code: "Odd", Message: "you sent AKIAECHOED with echoedSecret", StatusCode: 400}
	got := s.fail(t.Context(), "get", "k", nil, resp).Error()
	if strings.Contains(got, "AKIAECHOED") || strings.Contains(got, "echoedSecret") || !strings.Contains(got, "Odd") {
		t.Fatalf("fail = %q", got)
	}
}

// Every size up to S3's 5 TiB fits in 10,000 parts of at least 5 MiB, cut
// the same way for the same size; sizes that fit 10,000 parts of 16 MiB
// keep 16 MiB.
func TestS3PartSizeFor(t *testing.T) {
	const MiB, GiB = 1 << 20, 1 << 30
	for size, want := range map[int64]int64{
		16*MiB + 1:          16 * MiB,
		5*GiB + 1:           16 * MiB,
		10000 * 16 * MiB:    16 * MiB,
		10000*16*MiB + 1:    32 * MiB,
		200 * GiB:           32 * MiB, // 20.5 MiB a part at least
		1 << 40:             112 * MiB,
		s3MaxObjectSize:     528 * MiB,
		s3MaxObjectSize - 1: 528 * MiB,
	} {
		ps := partSizeFor(size)
		if ps != want {
			t.Errorf("partSizeFor(%d) = %d MiB, want %d MiB", size, ps/MiB, want/MiB)
		}
		if parts := (size + ps - 1) / ps; parts > int64(s3MaxParts) || ps < s3MinPartSize || ps > 5*GiB {
			t.Errorf("size %d: %d parts of %d bytes", size, parts, ps)
		}
	}
}

// A stream of unknown size grows its parts so that 10,000 of them hold
// more than 200 GiB, with 16 MiB buffers for the first 31.25 GiB.
func TestS3StreamPartSize(t *testing.T) {
	const MiB, GiB = 1 << 20, 1 << 30
	for n, want := range map[int]int64{1: 16 * MiB, 2000: 16 * MiB, 2001: 32 * MiB, 4001: 64 * MiB, 8001: 256 * MiB, 10000: 256 * MiB} {
		if got := streamPartSize(n); got != want {
			t.Errorf("streamPartSize(%d) = %d MiB, want %d MiB", n, got/MiB, want/MiB)
		}
	}
	if got := streamMaxSize(); got != 992000*MiB || got < 200*GiB {
		t.Errorf("streamMaxSize = %d MiB", got/MiB)
	}
}
