package br

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/nebula-open/nebula-br/internal/agent/pb"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

// Storage names a storage root and how to reach it.
type Storage struct {
	URI string // s3://bucket[/prefix], gs://bucket[/prefix] or local:///abs/dir
	S3  objstore.S3Config
	// GS: Credentials is a credentials JSON's content (a service account
	// key), which travels to the agents; empty: each agent's Application
	// Default Credentials. CredentialsFile is not used here (the agents run
	// elsewhere): read the file into Credentials, as GSStorage does.
	GS objstore.GSConfig
}

// GSStorage is the Storage of gs://BUCKET[/prefix] with the given
// credentials JSON (its content, e.g. as a Kubernetes Secret holds it;
// empty: Application Default Credentials) and endpoint ("" for Google's).
func GSStorage(bucket, prefix string, credentials []byte, endpoint string) Storage {
	uri := "gs://" + strings.Trim(bucket, "/")
	if p := strings.Trim(prefix, "/"); p != "" {
		uri += "/" + p
	}
	return Storage{URI: uri, GS: objstore.GSConfig{Credentials: string(credentials), Endpoint: endpoint}}
}

// GSArgs are br's storage flags for gs://bucket[/prefix]: credentialsFile
// is the path of the credentials JSON where br runs (e.g. a Secret's key
// mounted in a Job's pod; "" for Application Default Credentials), endpoint
// "" for Google's. The credentials themselves never go on a command line.
// A bucket's location plays no part: br creates no bucket.
func GSArgs(bucket, prefix, credentialsFile, endpoint string) []string {
	args := []string{"--storage", GSStorage(bucket, prefix, nil, "").URI}
	if credentialsFile != "" {
		args = append(args, "--gs.credentials", credentialsFile)
	}
	if endpoint != "" {
		args = append(args, "--gs.endpoint", endpoint)
	}
	return args
}

// Config is what opening the storage from this process needs.
func (s Storage) Config(readOnly bool) objstore.Config {
	return objstore.Config{S3: s.S3, GS: s.GS, ReadOnly: readOnly}
}

// Backend is the storage as agents receive it (secrets included: the
// agent channel is the only place they travel).
func (s Storage) Backend() *pb.Backend {
	return &pb.Backend{Uri: s.URI, S3AccessKey: s.S3.AccessKey, S3SecretKey: s.S3.SecretKey, S3Region: s.S3.Region, S3Endpoint: s.S3.Endpoint,
		GsCredentials: s.GS.Credentials, GsEndpoint: s.GS.Endpoint}
}

func (s Storage) backend() *pb.Backend { return s.Backend() }

// Common options of every command.
type Options struct {
	Storage     Storage
	Concurrency int          // parallel transfers (default 5)
	Log         *slog.Logger // never receives secrets
	Progress    io.Writer    // where progress lines go (nil: none)
	Terminal    bool         // Progress is a terminal: redraw one line
}

func (o *Options) defaults() {
	if o.Concurrency <= 0 {
		o.Concurrency = 5
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Redact removes secrets from text about to be shown.
func (s Storage) Redact(text string) string {
	for _, secret := range append([]string{s.S3.SecretKey, s.S3.AccessKey}, objstore.GSSecrets(s.GS.Credentials)...) {
		if len(secret) >= 4 {
			text = strings.ReplaceAll(text, secret, "<redacted>")
		}
	}
	return text
}

// HumanBytes renders a byte count: 1.5 GiB.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for x := n / unit; x >= unit; x /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
