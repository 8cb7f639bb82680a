package rpc

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
)

// Connections are served by Apache Thrift's THeaderTransport: it tells
// from a connection's first bytes whether the client speaks THeader
// (binary or compact inside), framed binary or compact, or unframed binary
// or compact, and answers in the same form. It is wrapped, not replaced,
// to add what a server facing arbitrary peers needs:
//
//   - the first bytes are checked before THeaderTransport sees them, with
//     the tests it applies, so that a peer that is no thrift client (HTTP,
//     random bytes) is logged and closed at once: THeaderTransport would
//     first read a whole "frame" of the length the garbage spells (up to
//     MaxFrameSize), and it tells a frame shorter than 4 bytes by bytes
//     left in its pooled buffer by another connection;
//   - a peer that sends a few bytes and then stalls before they can be
//     recognised is closed after sniffTimeout;
//   - writes are buffered until Flush, so a reply leaves in one segment
//     (THeaderTransport writes its length prefix separately).

// sniffLen bounds the first bytes kept for recognition and for the log.
const sniffLen = 16

// sniffTimeout is how long the bytes needed to recognise a connection may
// take once its first byte has arrived. An idle connection that has sent
// nothing yet (a pooled client) is left alone.
var sniffTimeout = 10 * time.Second

// minHeaderFrame is the smallest THeader frame: magic and flags, sequence
// id, header length, and one 4-byte word of header (protocol id,
// transform count).
const minHeaderFrame = 14

// errUnrecognised marks a connection closed because of its first bytes.
var errUnrecognised = errors.New("not a thrift client")

// recognise names the thrift form b starts, as THeaderTransport.ReadFrame
// tells it. With too few bytes to tell it returns need > len(b). It
// returns an error saying why for anything THeaderTransport would reject,
// or mishandle.
func recognise(b []byte, maxFrame uint32) (form string, need int, err error) {
	if len(b) < 4 {
		return "", 4, nil
	}
	w0 := binary.BigEndian.Uint32(b)
	switch {
	case w0&thrift.VERSION_MASK == thrift.VERSION_1:
		return "unframed binary", 0, nil
	case isCompact(b):
		return "unframed compact", 0, nil
	case w0 < 4:
		return "", 0, fmt.Errorf("a frame of %d bytes", w0)
	case w0 > maxFrame:
		return "", 0, fmt.Errorf("a frame of %d bytes exceeds the %d allowed", w0, maxFrame)
	case len(b) < 8:
		return "", 8, nil
	}
	w1 := binary.BigEndian.Uint32(b[4:])
	switch {
	case w1&thrift.THeaderHeaderMask == thrift.THeaderHeaderMagic:
		if w0 < minHeaderFrame {
			return "", 0, fmt.Errorf("a THeader frame of %d bytes", w0)
		}
		return "header", 0, nil
	case w1&thrift.VERSION_MASK == thrift.VERSION_1:
		return "framed binary", 0, nil
	case isCompact(b[4:]):
		return "framed compact", 0, nil
	}
	return "", 0, fmt.Errorf("a frame of %d bytes holding neither a THeader nor a binary or compact message", w0)
}

func isCompact(b []byte) bool {
	return b[0] == thrift.COMPACT_PROTOCOL_ID && b[1]&thrift.COMPACT_VERSION_MASK == thrift.COMPACT_VERSION
}

// transportFactory gives each accepted socket a THeaderTransport over a
// sniffer.
type transportFactory struct {
	conf *thrift.TConfiguration
	log  *slog.Logger
	addr string // the server's, for the log
}

func (f *transportFactory) GetTransport(trans thrift.TTransport) (thrift.TTransport, error) {
	s := &sniffer{sock: trans, log: f.log, addr: f.addr, peer: "unknown",
		maxFrame: min(thrift.THeaderMaxFrameSize, uint32(f.conf.GetMaxFrameSize()))}
	if c, ok := trans.(interface{ Conn() net.Conn }); ok && c.Conn() != nil {
		s.conn = c.Conn()
		s.peer = s.conn.RemoteAddr().String()
	}
	s.w = bufio.NewWriterSize(writer{trans}, 64<<10)
	return thrift.NewTHeaderTransportConf(s, f.conf), nil
}

// writer hides the transport's other methods from bufio.
type writer struct{ t thrift.TTransport }

func (w writer) Write(p []byte) (int, error) { return w.t.Write(p) }

// sniffer is the socket as THeaderTransport sees it: the first Read
// returns only once the connection's form is recognised, and fails, having
// logged and closed the connection, when it is none.
type sniffer struct {
	sock     thrift.TTransport
	conn     net.Conn // sock's; nil if it has none (then no sniffing)
	w        *bufio.Writer
	log      *slog.Logger
	addr     string
	peer     string
	maxFrame uint32

	known bool   // the form is recognised
	head  []byte // bytes read while recognising, not yet returned
}

func (s *sniffer) Read(p []byte) (int, error) {
	if !s.known {
		if err := s.sniff(); err != nil {
			return 0, err
		}
	}
	if len(s.head) > 0 {
		n := copy(p, s.head)
		s.head = s.head[n:]
		return n, nil
	}
	return s.sock.Read(p)
}

// sniff reads until the first bytes tell the connection's form.
func (s *sniffer) sniff() error {
	if s.conn == nil {
		s.known = true
		return nil
	}
	buf := make([]byte, 0, sniffLen)
	for {
		form, need, err := recognise(buf, s.maxFrame)
		if err != nil {
			s.reject(buf, err.Error())
			return fmt.Errorf("%w: %v", errUnrecognised, err)
		}
		if need == 0 {
			if s.conn.SetReadDeadline(time.Time{}) != nil {
				return thrift.NewTTransportException(thrift.NOT_OPEN, "connection closed")
			}
			s.log.Debug("thrift connection", "addr", s.addr, "peer", s.peer, "form", form)
			s.known, s.head = true, buf
			return nil
		}
		n, rerr := s.conn.Read(buf[len(buf):cap(buf)])
		if n > 0 && len(buf) == 0 {
			_ = s.conn.SetReadDeadline(time.Now().Add(sniffTimeout))
		}
		buf = buf[:len(buf)+n]
		if rerr != nil {
			if len(buf) > 0 {
				var ne net.Error
				why := "closed after these bytes"
				if errors.As(rerr, &ne) && ne.Timeout() {
					why = fmt.Sprintf("sent only these bytes in %v", sniffTimeout)
				}
				s.reject(buf, why)
			}
			return thrift.NewTTransportExceptionFromError(rerr)
		}
	}
}

// reject logs what the peer sent and closes the connection.
func (s *sniffer) reject(b []byte, why string) {
	s.log.Warn("closing a connection that is not a thrift client", "addr", s.addr, "peer", s.peer,
		"first_bytes", string(b), "hex", hex.EncodeToString(b), "why", why)
	_ = s.sock.Close()
}

func (s *sniffer) Write(p []byte) (int, error) { return s.w.Write(p) }

func (s *sniffer) Flush(ctx context.Context) error {
	if err := s.w.Flush(); err != nil {
		return thrift.NewTTransportExceptionFromError(err)
	}
	return s.sock.Flush(ctx)
}

func (s *sniffer) Close() error           { return s.sock.Close() }
func (s *sniffer) Open() error            { return s.sock.Open() }
func (s *sniffer) IsOpen() bool           { return s.sock.IsOpen() }
func (s *sniffer) RemainingBytes() uint64 { return s.sock.RemainingBytes() }
