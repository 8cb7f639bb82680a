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
