package client

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/apache/thrift/lib/go/thrift"
)

// WrongServerError says that the address of a NebulaGraph service is
// something else: an HTTP server, a TLS port, a thrift server of another
// service, or a peer that never answers. Sessions return it wrapped in a
// *TransportError, so errors.As(err, &*TransportError) still holds.
type WrongServerError struct {
	Service string // "meta", "storage", "graph"
	Addr    string
	// Reason completes "it ...", e.g. `answered like an HTTP server
	// (frame size 1213486160 is "HTTP")`.
	Reason string
	// Sure is false when the peer did not answer at all: a NebulaGraph
	// server that hangs looks the same.
	Sure bool
	Err  error // the failure seen on the connection
}

func (e *WrongServerError) Error() string {
	daemon := daemonName(e.Service)
	hint := portHint(e.Service)
	if e.Sure {
		s := fmt.Sprintf("%s is not a NebulaGraph %s: it %s", e.Addr, daemon, e.Reason)
		if hint != "" {
			s += ": " + hint
		}
		return s
	}
	s := fmt.Sprintf("%s %s: is it a NebulaGraph %s?", e.Addr, e.Reason, daemon)
	if hint != "" {
		s += " " + hint
	}
	return s
}

func (e *WrongServerError) Unwrap() error { return e.Err }

func daemonName(service string) string {
	switch service {
	case "meta":
		return "metad"
	case "storage":
		return "storaged"
	case "graph":
		return "graphd"
	}
	return "server"
}

func portHint(service string) string {
	switch service {
	case "meta":
		return "--meta takes metad's thrift port, 9559 by default"
	case "graph":
		return "graphd's thrift port is 9669 by default"
	}
	return ""
}

// probeWait is how long a peer that did not answer the handshake gets,
// once we stop sending, to show what it is: an HTTP server still waiting
// for the end of a request line answers "400 Bad Request" at end of input.
const probeWait = 500 * time.Millisecond

// diagnose explains the failure err of the first call on the fresh
// connection c when the peer is evidently not a NebulaGraph thrift server;
// otherwise it returns err unchanged. handshake says the call was the
// handshake (verifyClientVersion), timedOut that it ran out of the
// handshake timeout while ctx itself was still alive.
func (s *session) diagnose(ctx context.Context, c *Conn, method string, err error, handshake, timedOut bool) error {
	if err == nil || ctx.Err() != nil {
		return err
	}
	var ce *CodeError
	if errors.As(err, &ce) {
		return err
	}
	wrong := func(reason string, sure bool) error {
		return &WrongServerError{Service: s.service, Addr: s.addr, Reason: reason, Sure: sure, Err: err}
	}
	var ae thrift.TApplicationException
	if errors.As(err, &ae) {
		if handshake && (ae.TypeId() == thrift.UNKNOWN_METHOD || ae.TypeId() == thrift.WRONG_METHOD_NAME) {
			return wrong(fmt.Sprintf("is a thrift server that does not know %s (another NebulaGraph service's port?)", method), true)
		}
		return err
	}
	if c.answered {
		return err
	}
	head := c.head()
	if len(head) == 0 && timedOut {
		head = c.probe(probeWait)
	}
	if len(head) == 0 {
		if !handshake {
			return err
		}
		if timedOut {
			return wrong(fmt.Sprintf("accepted the connection but did not answer %s within %s", method, s.opts.HandshakeTimeout), false)
		}
		return wrong(fmt.Sprintf("closed the connection without answering %s (%s)", method, causeText(err)), false)
	}
	reason, sure := classify(head, c.opts.MaxFrameSize)
	if reason == "" {
		return err // a thrift frame: the failure is something else
	}
	return wrong(reason, sure)
}

// head is what the peer has sent first on c (up to 32 bytes).
func (c *Conn) head() []byte { return c.trans.head[:c.trans.nhead] }

// probe half-closes c and waits up to wait for the peer to send anything,
// then returns c.head().
func (c *Conn) probe(wait time.Duration) []byte {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	if c.nc.SetReadDeadline(time.Now().Add(wait)) == nil {
		buf := make([]byte, len(c.trans.head))
		_, _ = io.ReadAtLeast(c.trans, buf, 4)
	}
	return c.head()
}

// classify tells what the first bytes a peer sent are, when they are not
// the start of a thrift frame ("" otherwise). sure is false when too few
// bytes came to tell.
func classify(head []byte, maxFrame int32) (reason string, sure bool) {
	if len(head) < 4 {
		return fmt.Sprintf("sent only %d byte(s) (% x) and no thrift frame", len(head), head), false
	}
	size := binary.BigEndian.Uint32(head)
	magic := strconv.Quote(string(head[:4]))
	switch {
	case string(head[:4]) == "HTTP":
		return fmt.Sprintf("answered like an HTTP server (frame size %d is %s)", size, magic), true
	case (head[0] == 0x15 || head[0] == 0x16) && head[1] == 0x03:
		return fmt.Sprintf("answered like a TLS server (first bytes % x)", head[:min(len(head), 8)]), true
	case string(head[:4]) == "SSH-":
		return fmt.Sprintf("answered like an SSH server (%s)", strconv.Quote(firstLine(head))), true
	case looksLikeThrift(head, maxFrame):
		return "", false
	case isText(head):
		return fmt.Sprintf("answered with text %s, not a thrift frame (frame size %d is %s)", strconv.Quote(firstLine(head)), size, magic), true
	}
	return fmt.Sprintf("answered with bytes that are not a thrift frame (frame size %d, first bytes % x)", size, head[:min(len(head), 8)]), true
}

// looksLikeThrift: a sane frame size followed by a binary (strict),
// compact or THeader protocol marker.
func looksLikeThrift(head []byte, maxFrame int32) bool {
	size := binary.BigEndian.Uint32(head)
	if size < 4 || int64(size) > int64(maxFrame) {
		return false
	}
	if len(head) < 6 {
		return true
	}
	switch {
	case head[4] == 0x80 && head[5] == 0x01: // binary, strict
	case head[4] == 0x0f && head[5] == 0xff: // THeader
	case head[4] == 0x82: // compact
	default:
		return false
	}
	return true
}

func isText(b []byte) bool {
	for _, r := range string(b) {
		if r == unicode.ReplacementChar || (!unicode.IsPrint(r) && !unicode.IsSpace(r)) {
			return false
		}
	}
	return true
}

func firstLine(b []byte) string {
	s := string(b)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return s
}

// isTimeout reports whether err is a deadline running out.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
