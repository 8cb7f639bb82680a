package objstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Kinds of failure that callers (br, the operator's validation) test for with
// errors.Is. Errors returned by a Store wrap one of these, or ErrNotFound, when
// the cause is known; their text says what to fix.
var (
	// ErrBucketNotFound: the URI's bucket does not exist at the endpoint.
	ErrBucketNotFound = errors.New("bucket does not exist")
	// ErrAccessDenied: the endpoint rejected the credentials (unknown access
	// key, wrong secret key, or no permission).
	ErrAccessDenied = errors.New("credentials rejected")
	// ErrUnreachable: no answer from the endpoint (refused, DNS, TLS, timeout).
	ErrUnreachable = errors.New("storage endpoint unreachable")
	// ErrInvalidURI: Open was given a URI it does not accept.
	ErrInvalidURI = errors.New("invalid storage URI")
	// ErrInvalidKey: a key that is empty, absolute, or has empty, "." or ".."
	// elements.
	ErrInvalidKey = errors.New("invalid object key")
)

// storeError is the error every Store method returns for a classified
// failure: a finished, redacted message plus the kinds it matches.
type storeError struct {
	msg   string
	kinds []error
}

func (e *storeError) Error() string   { return e.msg }
func (e *storeError) Unwrap() []error { return e.kinds }

// newError builds a storeError; nil kinds are dropped.
func newError(msg string, kinds ...error) error {
	e := &storeError{msg: msg}
	for _, k := range kinds {
		if k != nil {
			e.kinds = append(e.kinds, k)
		}
	}
	return e
}

// secrets holds every credential string a store has used, so that no text the
// package produces can carry one.
type secrets struct {
	mu   sync.Mutex
	vals []string
}

func (s *secrets) add(vals ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
next:
	for _, v := range vals {
		if v == "" {
			continue
		}
		for _, have := range s.vals {
			if have == v {
				continue next
			}
		}
		s.vals = append(s.vals, v)
	}
}

// redact replaces every known secret in text.
func (s *secrets) redact(text string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.vals {
		text = strings.ReplaceAll(text, v, "<redacted>")
	}
	return text
}

// failer builds a backend's errors for one failed call: each message is
// prefixed with the operation and key (op "" for Check) and scrubbed of
// every credential. first answers for the failures every backend shares,
// the Put's own source and the caller's context, naming where (endpoint
// and bucket); nil means the backend must classify err itself.
type failer struct {
	where   string
	secrets *secrets
}

func newFailer(op, key string, sec *secrets) failer {
	f := failer{secrets: sec}
	if op != "" {
		f.where = fmt.Sprintf("%s %q: ", op, key)
	}
	return f
}

func (f failer) mk(msg string, kinds ...error) error {
	return newError(f.secrets.redact(f.where+msg), kinds...)
}

func (f failer) first(ctx context.Context, src *sourceReader, where string) error {
	if src != nil {
		if serr := src.failure(); serr != nil {
			return f.mk(fmt.Sprintf("reading the source: %v", serr), serr)
		}
	}
	if cerr := ctx.Err(); cerr != nil {
		return f.mk(fmt.Sprintf("%s (%s)", cerr, where), cerr)
	}
	return nil
}
