package agent

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nebula-open/nebula-br/internal/objstore"
)

// absPath checks that a request's path is set and absolute, and cleans it.
func absPath(field, p string) (string, error) {
	if p == "" {
		return "", status.Errorf(codes.InvalidArgument, "%s is not set", field)
	}
	if !filepath.IsAbs(p) {
		return "", status.Errorf(codes.InvalidArgument, "%s %q is not an absolute path", field, p)
	}
	return filepath.Clean(p), nil
}

// localError marks a failure on this host's disk (not the storage's): it is
// not retried.
type localError struct{ err error }

func (e *localError) Error() string { return e.err.Error() }
func (e *localError) Unwrap() error { return e.err }

// codeOf picks the gRPC code for an error that is not a status yet.
func codeOf(err error) codes.Code {
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
		return st.Code()
	}
	switch {
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	case errors.Is(err, objstore.ErrInvalidURI), errors.Is(err, objstore.ErrInvalidKey):
		return codes.InvalidArgument
	case errors.Is(err, objstore.ErrAccessDenied):
		return codes.PermissionDenied
	case errors.Is(err, objstore.ErrBucketNotFound):
		return codes.FailedPrecondition
	case errors.Is(err, objstore.ErrUnreachable):
		return codes.Unavailable
	case errors.Is(err, objstore.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		return codes.NotFound
	case errors.Is(err, fs.ErrPermission):
		return codes.PermissionDenied
	case errors.Is(err, fs.ErrExist):
		return codes.AlreadyExists
	}
	return codes.Internal
}

// toStatus makes err a gRPC status error whose message is err's text with
// the given secrets scrubbed out; a status error keeps its code.
func toStatus(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	code := codeOf(err)
	msg := err.Error()
	if st, ok := status.FromError(err); ok {
		msg = st.Message()
	}
	return status.Error(code, scrub(msg, secrets))
}

// retryable reports whether a failed file is worth another attempt: not
// when the request was cancelled, the data is wrong or missing, or our own
// disk failed.
func retryable(err error) bool {
	var le *localError
	if errors.As(err, &le) {
		return false
	}
	switch codeOf(err) {
	case codes.Canceled, codes.DeadlineExceeded, codes.NotFound, codes.DataLoss,
		codes.InvalidArgument, codes.PermissionDenied, codes.FailedPrecondition:
		return false
	}
	return true
}

// joinKey puts a relative key under a prefix.
func joinKey(prefix, rel string) string {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return rel
	}
	return prefix + "/" + rel
}

// checkKey rejects relative keys that would leave the target directory.
func checkKey(key string) error {
	if key == "" {
		return status.Error(codes.InvalidArgument, "file with an empty key")
	}
	if strings.HasPrefix(key, "/") || strings.Contains(key, "\\") {
		return status.Errorf(codes.InvalidArgument, "key %q: must be a relative slash-separated path", key)
	}
	for _, part := range strings.Split(key, "/") {
		if part == "" || part == "." || part == ".." {
			return status.Errorf(codes.InvalidArgument, "key %q: empty, . or .. path element", key)
		}
	}
	return nil
}
