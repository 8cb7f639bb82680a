package objstore

import (
	"errors"
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
