package client

import (
	"errors"
	"fmt"

	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
)

// ErrClosed is returned by calls on a closed client.
var ErrClosed = errors.New("client closed")

// CodeError is a reply whose error code is not SUCCEEDED. Error() reads
// like "meta createBackup: E_BACKUP_FAILED" (plus ": msg" when the server
// sent a message, and ": cause" when the client found out why).
type CodeError struct {
	Service string // "meta", "storage", "graph"
	Method  string // thrift method name, e.g. "createBackup"
	Code    nebula.ErrorCode
	Msg     string
	// Leader is the server's leader hint, if it sent one (E_LEADER_CHANGED).
	Leader *nebula.HostAddr
	// Cause, if set, is what the client found out on its own about a code
	// that says nothing about why (most replies have no message field):
	// e.g. a *HostsDownError behind createBackup's E_BACKUP_FAILED.
	Cause error
}

func (e *CodeError) Error() string {
	s := e.Method + ": " + codeName(e.Code)
	if e.Service != "" {
		s = e.Service + " " + s
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

func (e *CodeError) Unwrap() error { return e.Cause }

// PartError is a failed partition reported in a storage ResponseCommon.
type PartError struct {
	Method string
	Space  nebula.GraphSpaceID
	Part   nebula.PartitionID
	Code   nebula.ErrorCode
	Leader *nebula.HostAddr
}

func (e *PartError) Error() string {
	return fmt.Sprintf("storage %s: space %d part %d: %s", e.Method, e.Space, e.Part, codeName(e.Code))
}

// IsCode reports whether err, or anything it wraps (including every part of
// a joined error), is a *CodeError or *PartError carrying code.
func IsCode(err error, code nebula.ErrorCode) bool {
	switch e := err.(type) {
	case nil:
		return false
	case *CodeError:
		if e.Code == code {
			return true
		}
	case *PartError:
		if e.Code == code {
			return true
		}
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return IsCode(u.Unwrap(), code)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if IsCode(e, code) {
				return true
			}
		}
	}
	return false
}

func codeName(c nebula.ErrorCode) string {
	if s := c.String(); s != "<UNSET>" {
		return s
	}
	return fmt.Sprintf("ErrorCode(%d)", int32(c))
}

// checkCode turns a non-SUCCEEDED code into a *CodeError.
func checkCode(service, method string, code nebula.ErrorCode, msg []byte, leader *nebula.HostAddr) error {
	if code == nebula.ErrorCode_SUCCEEDED {
		return nil
	}
	if leader != nil && leader.Host == "" && leader.Port == 0 {
		leader = nil
	}
	return &CodeError{Service: service, Method: method, Code: code, Msg: string(msg), Leader: leader}
}
