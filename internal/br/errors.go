package br

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

// Kinds of failure. br's errors wrap one of these (errors.Is), so that a
// caller classifies a failure by its kind, never by its text: the
// operator maps each to one NebulaRestore reason.
var (
	// ErrBackupNotFound: the backup (or a base of its chain) has no .meta.
	ErrBackupNotFound = errors.New("backup not found")
	// ErrBackupDamaged: an object of the backup is missing, has the wrong
	// size or checksum, or its metadata cannot be read.
	ErrBackupDamaged = errors.New("backup damaged")
	// ErrStorageUnavailable: the external storage cannot be reached now.
	ErrStorageUnavailable = errors.New("storage unavailable")
	// ErrStorageRefused: the storage answers but refuses (no such bucket,
	// credentials rejected, bad URI): retrying will not help.
	ErrStorageRefused = errors.New("storage refused")
	// ErrTargetBusy: another restore holds the target, or an interrupted
	// one must be resumed or aborted first.
	ErrTargetBusy = errors.New("target busy")
	// ErrAgentUnavailable: a br-agent (or service) of the target cannot be
	// reached now.
	ErrAgentUnavailable = errors.New("agent unavailable")
	// ErrPlaybackFailed: restored data could not be played back.
	ErrPlaybackFailed = errors.New("playback failed")
	// ErrTopology: the target's hosts cannot take the backup.
	ErrTopology = errors.New("topology mismatch")
	// ErrTargetFailed: the target cluster failed a step of the restore
	// (a service would not start, restoreMeta failed, a disk is full).
	ErrTargetFailed = errors.New("target failed")
)

// Transient reports whether err is worth waiting out: the same step may
// succeed later without anyone changing anything.
func Transient(err error) bool {
	return errors.Is(err, ErrStorageUnavailable) || errors.Is(err, ErrAgentUnavailable) || errors.Is(err, ErrTargetBusy)
}

// kindError marks an error with its kind; the text is the error's own.
type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string        { return e.err.Error() }
func (e *kindError) Unwrap() []error      { return []error{e.kind, e.err} }
func (e *kindError) Is(target error) bool { return target == e.kind }

// mark gives err a kind (nil stays nil; an error that has a kind keeps it).
func mark(kind, err error) error {
	if err == nil || kindOf(err) != nil {
		return err
	}
	return &kindError{kind: kind, err: err}
}

func markf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, err: fmt.Errorf(format, args...)}
}

var kinds = []error{ErrBackupNotFound, ErrBackupDamaged, ErrStorageUnavailable, ErrStorageRefused, ErrTargetBusy,
	ErrAgentUnavailable, ErrPlaybackFailed, ErrTopology, ErrTargetFailed}

// kindOf is the kind err carries, nil if none.
func kindOf(err error) error {
	for _, k := range kinds {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

// redacted is an error whose text has the storage's secrets removed; its
// chain (for errors.Is) is kept.
type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

// RedactError hides the storage's secrets in err's text, keeping its kind.
func (s Storage) RedactError(err error) error {
	if err == nil {
		return nil
	}
	return &redacted{msg: s.Redact(err.Error()), err: err}
}

// storageKind classifies an object store failure.
func storageKind(err error) error {
	switch {
	case errors.Is(err, objstore.ErrUnreachable):
		return ErrStorageUnavailable
	case errors.Is(err, objstore.ErrBucketNotFound), errors.Is(err, objstore.ErrAccessDenied), errors.Is(err, objstore.ErrInvalidURI):
		return ErrStorageRefused
	case errors.Is(err, objstore.ErrNotFound):
		return ErrBackupDamaged
	}
	return ErrStorageUnavailable
}

// agentKind classifies a failed call to an agent by its gRPC code.
func agentKind(err error) error {
	var te *client.TransportError
	if errors.As(err, &te) {
		return ErrAgentUnavailable
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Aborted:
		return ErrAgentUnavailable
	case codes.DataLoss, codes.NotFound:
		return ErrBackupDamaged
	case codes.PermissionDenied, codes.Unauthenticated:
		return ErrStorageRefused
	}
	return ErrTargetFailed
}

// Classify gives an error without a kind the kind its cause implies (a
// lost connection is ErrAgentUnavailable, a failed call ErrTargetFailed).
func Classify(err error) error {
	if err == nil || kindOf(err) != nil {
		return err
	}
	return mark(agentKind(err), err)
}
