package br

import (
	"reflect"
	"strings"
	"testing"
)

func TestGSStorage(t *testing.T) {
	creds := `{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCsecretline\n-----END PRIVATE KEY-----\n"}`
	st := GSStorage("bucket/", "/backups/nebula/", []byte(creds), "http://127.0.0.1:4443")
	if st.URI != "gs://bucket/backups/nebula" || st.GS.Credentials != creds || st.GS.Endpoint != "http://127.0.0.1:4443" {
		t.Fatalf("GSStorage = %+v", st)
	}
	if b := st.Backend(); b.Uri != st.URI || b.GsCredentials != creds || b.GsEndpoint != st.GS.Endpoint || b.S3SecretKey != "" {
		t.Fatalf("Backend = %v", b)
	}
	if c := st.Config(true); c.GS != st.GS || !c.ReadOnly {
		t.Fatalf("Config = %+v", c)
	}
	if st := GSStorage("b", "", nil, ""); st.URI != "gs://b" {
		t.Fatalf("GSStorage without a prefix: %q", st.URI)
	}
	msg := st.Redact("open failed: " + creds + " and a line: MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCsecretline")
	if strings.Contains(msg, "secretline") || strings.Contains(msg, "PRIVATE KEY") {
		t.Fatalf("Redact left the key: %q", msg)
	}
	for _, tc := range []struct {
		bucket, prefix, file, endpoint string
		want                           []string
	}{
		{"b", "p", "/var/run/secrets/gcs/credentials", "", []string{"--storage", "gs://b/p", "--gs.credentials", "/var/run/secrets/gcs/credentials"}},
		{"b", "", "", "http://fake:4443", []string{"--storage", "gs://b", "--gs.endpoint", "http://fake:4443"}},
	} {
		if got := GSArgs(tc.bucket, tc.prefix, tc.file, tc.endpoint); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("GSArgs(%q, %q, %q, %q) = %q, want %q", tc.bucket, tc.prefix, tc.file, tc.endpoint, got, tc.want)
		}
	}
}
