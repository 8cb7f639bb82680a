// Package client holds typed thrift clients for NebulaGraph 3.x services
// (metad, storaged admin, graphd) and nebula-lite's LiteStorageService.
//
// All clients speak framed transport + binary protocol, like NebulaGraph's
// own servers and clients. Each typed client owns one connection, guarded by
// a mutex, and redials once when a reused connection turns out to be dead.
package client

import (
	"bufio"
	"context"
	"errors"
	"math"
	"net"
	"syscall"
	"time"

	"github.com/nebula-open/nebula-br/internal/hostmap"

	"github.com/apache/thrift/lib/go/thrift"
)

// Defaults for Options fields left zero.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultRequestTimeout = 60 * time.Second
	// A NebulaGraph server answers verifyClientVersion at once; waiting
	// longer only delays saying that the address is not one.
	DefaultHandshakeTimeout = 2 * time.Second
	// Backup manifests and scans can exceed thrift's 16 MB default.
	DefaultMaxFrameSize = 256 << 20
)

// Options tunes a connection. The zero value uses the defaults above.
type Options struct {
	// ConnectTimeout bounds the TCP connect.
	ConnectTimeout time.Duration
	// RequestTimeout bounds each RPC (send + receive); a shorter context
	// deadline wins.
	RequestTimeout time.Duration
	// HandshakeTimeout bounds the first call on a new connection
	// (verifyClientVersion), so that an address that is not a NebulaGraph
	// server, or one that never answers, is reported quickly. It is
	// capped by RequestTimeout.
	HandshakeTimeout time.Duration
	// MaxFrameSize is the largest frame accepted, in bytes.
	MaxFrameSize int32
}

func (o Options) withDefaults() Options {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if o.HandshakeTimeout > o.RequestTimeout {
		o.HandshakeTimeout = o.RequestTimeout
	}
	if o.MaxFrameSize <= 0 {
		o.MaxFrameSize = DefaultMaxFrameSize
	}
	return o
}

// Conn is one framed, binary-protocol thrift connection. It implements
// thrift.TClient, so generated clients can be built on it, e.g.
// meta.NewMetaServiceClient(conn). A Conn is not safe for concurrent use.
type Conn struct {
	addr   string
	opts   Options
	nc     net.Conn
	trans  *netTransport
	client *thrift.TStandardClient
	// broken is set once the stream may be out of sync (failed or
	// interrupted call); such a Conn must be closed, not reused.
	broken bool
	// answered is set once a reply has been decoded: the peer speaks our
	// protocol.
	answered bool
}

// Dial connects to addr. Failures are *TransportError values naming addr.
func Dial(ctx context.Context, addr string, opts Options) (*Conn, error) {
	opts = opts.withDefaults()
	d := net.Dialer{Timeout: opts.ConnectTimeout}
	nc, err := d.DialContext(ctx, "tcp", hostmap.Dial(addr))
	if err != nil {
		return nil, &TransportError{Addr: addr, Err: err}
	}
	conf := &thrift.TConfiguration{
		MaxFrameSize:       opts.MaxFrameSize,
		MaxMessageSize:     opts.MaxFrameSize,
		TBinaryStrictWrite: thrift.BoolPtr(true),
	}
	nt := newNetTransport(nc)
	trans := thrift.NewTFramedTransportConf(nt, conf)
	proto := thrift.NewTBinaryProtocolConf(trans, conf)
	return &Conn{
		addr:   addr,
		opts:   opts,
		nc:     nc,
		trans:  nt,
		client: thrift.NewTStandardClient(proto, proto),
	}, nil
}

// Addr is the address the connection was dialed to.
func (c *Conn) Addr() string { return c.addr }

// LocalAddr is our end of the TCP connection.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// Close closes the underlying socket.
func (c *Conn) Close() error { return c.nc.Close() }

// Call implements thrift.TClient. It bounds the call by RequestTimeout and
// the context: thrift's own client ignores ctx for I/O, so a cancelled
// context pulls the socket deadline into the past to unblock it.
func (c *Conn) Call(ctx context.Context, method string, args, result thrift.TStruct) (thrift.ResponseMeta, error) {
	if err := ctx.Err(); err != nil {
		return thrift.ResponseMeta{}, err
	}
	deadline := time.Now().Add(c.opts.RequestTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.nc.SetDeadline(deadline); err != nil {
		c.broken = true
		return thrift.ResponseMeta{}, err
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = c.nc.SetDeadline(time.Unix(1, 0))
		close(fired)
	})
	meta, err := c.client.Call(ctx, method, args, result)
	if !stop() {
		// The cancel hook ran: the deadline is poisoned. Wait for it, so
		// that nothing sets a deadline after us.
		<-fired
		c.broken = true
		if err != nil {
			// The I/O error is only a symptom of the cancellation.
			err = ctx.Err()
		}
	}
	if err == nil || isApplicationError(err) {
		c.answered = true
	} else {
		c.broken = true
	}
	return meta, err
}

// isApplicationError reports whether the server answered with a thrift
// application exception (unknown method, handler failure): the stream is
// still in sync and the connection stays usable.
func isApplicationError(err error) bool {
	var te thrift.TException
	return errors.As(err, &te) && te.TExceptionType() == thrift.TExceptionTypeApplication
}

// netTransport adapts a net.Conn to thrift.TTransport. Writes are buffered
// so that a frame's length prefix and body leave in one segment. The first
// bytes received are kept: when they are no thrift frame, they tell what
// the peer is (see diagnose).
type netTransport struct {
	nc    net.Conn
	w     *bufio.Writer
	head  [32]byte
	nhead int
}

func newNetTransport(nc net.Conn) *netTransport {
	return &netTransport{nc: nc, w: bufio.NewWriterSize(nc, 64<<10)}
}

func (t *netTransport) Read(p []byte) (int, error) {
	n, err := t.nc.Read(p)
	if n > 0 && t.nhead < len(t.head) {
		t.nhead += copy(t.head[t.nhead:], p[:n])
	}
	return n, err
}

func (t *netTransport) Write(p []byte) (int, error)   { return t.w.Write(p) }
func (t *netTransport) Flush(_ context.Context) error { return t.w.Flush() }
func (t *netTransport) Close() error                  { return t.nc.Close() }
func (t *netTransport) Open() error                   { return nil }
func (t *netTransport) IsOpen() bool                  { return true }
func (t *netTransport) RemainingBytes() (n uint64)    { return math.MaxUint64 }

// TransportError is a failure to reach or talk to a server (dial, I/O,
// framing, decoding). Error() reads like "meta 127.0.0.1:9559: connection
// refused"; Unwrap gives the cause.
type TransportError struct {
	Service string // "meta", "storage", "graph"; may be empty
	Addr    string
	Method  string // empty for dial/handshake failures
	Err     error
}

func (e *TransportError) Error() string {
	var ws *WrongServerError
	if errors.As(e.Err, &ws) {
		return ws.Error() // it names the address and what is wrong
	}
	s := e.Addr + ": "
	if e.Service != "" {
		s = e.Service + " " + s
	}
	if e.Method != "" {
		s += e.Method + ": "
	}
	return s + causeText(e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// causeText drops the "dial tcp host:port: connect:" noise net errors carry,
// since TransportError already names the address.
func causeText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}
