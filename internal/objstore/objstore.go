// Package objstore is external storage behind one small interface: S3 and
// S3-compatible services (MinIO), Google Cloud Storage and local
// directories. Keys are slash-separated paths relative to the store's root
// (the URI's prefix).
package objstore

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned (wrapped) for a missing object.
var ErrNotFound = errors.New("object not found")

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key     string // relative to the store's root
	Size    int64
	ModTime time.Time
}

// Store is one storage root, e.g. s3://bucket/prefix, gs://bucket/prefix or
// local:///abs/dir.
type Store interface {
	// Put stores size bytes from r under key (size -1: unknown). Large
	// objects go up in parallel parts; a failed Put leaves no object. On
	// S3, the parts of a failed Put of known size stay for the next Put
	// of the key to resume (DeleteDir removes them).
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Get opens an object for reading.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Stat describes an object.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// List calls fn for every object whose key starts with prefix, in key order.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error
	// Delete removes an object; a missing one is not an error.
	Delete(ctx context.Context, key string) error
	// DeleteDir removes every object under dir+"/" and whatever unfinished
	// writes left there (temporary files, incomplete multipart uploads),
	// and returns how many objects it removed.
	DeleteDir(ctx context.Context, dir string) (int, error)
	// Check verifies the root is reachable and usable (bucket exists,
	// credentials accepted), with an error that says what to fix.
	Check(ctx context.Context) error
	// URI names the root without credentials.
	URI() string
}
