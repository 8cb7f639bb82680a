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
	URI string // s3://bucket[/prefix] or local:///abs/dir
	S3  objstore.S3Config
}

// backend is the storage as agents receive it (secrets included: the
// agent channel is the only place they travel).
func (s Storage) backend() *pb.Backend {
	return &pb.Backend{Uri: s.URI, S3AccessKey: s.S3.AccessKey, S3SecretKey: s.S3.SecretKey, S3Region: s.S3.Region, S3Endpoint: s.S3.Endpoint}
}

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
	for _, secret := range []string{s.S3.SecretKey, s.S3.AccessKey} {
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
