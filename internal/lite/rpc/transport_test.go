package rpc

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/graph"

	"github.com/apache/thrift/lib/go/thrift"
)

// Servers of these tests listen on 127.0.5.2 and 127.0.5.3, on ports the
// kernel picks; cluster_test.go uses 127.0.5.1.

func TestRecognise(t *testing.T) {
	const max = 64 << 20
	frame := func(n uint32, rest ...byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, n), rest...)
	}
	for _, c := range []struct {
		name string
		b    []byte
		form string
		need int
		bad  bool
	}{
		{name: "nothing", b: nil, need: 4},
		{name: "three bytes", b: []byte{0, 0, 0}, need: 4},
		{name: "unframed binary", b: []byte{0x80, 0x01, 0x00, 0x01}, form: "unframed binary"},
		{name: "unframed compact", b: []byte{0x82, 0x21, 0x01, 0x04}, form: "unframed compact"},
		{name: "frame length only", b: frame(100), need: 8},
		{name: "header", b: frame(100, 0x0f, 0xff, 0x00, 0x00), form: "header"},
		{name: "framed binary", b: frame(100, 0x80, 0x01, 0x00, 0x01), form: "framed binary"},
		{name: "framed compact", b: frame(100, 0x82, 0x21, 0x01, 0x04), form: "framed compact"},
		{name: "largest frame", b: frame(max, 0x80, 0x01, 0x00, 0x01), form: "framed binary"},
		{name: "frame too large", b: frame(max + 1), bad: true},
		{name: "http", b: []byte("GET / HTTP/1.1\r\n"), bad: true},
		{name: "tls", b: []byte{0x16, 0x03, 0x01, 0x02, 0x00}, bad: true},
		{name: "empty frame", b: frame(0), bad: true},
		{name: "frame of 3", b: frame(3), bad: true},
		{name: "short header frame", b: frame(10, 0x0f, 0xff, 0x00, 0x00), bad: true},
		{name: "frame of text", b: frame(100, 'h', 'e', 'l', 'l'), bad: true},
		{name: "compact, wrong version", b: frame(100, 0x82, 0x22, 0x01, 0x04), bad: true},
	} {
		form, need, err := recognise(c.b, max)
		if (err != nil) != c.bad || form != c.form || need != c.need {
			t.Errorf("%s (% x): form %q need %d err %v; want form %q need %d bad %v", c.name, c.b, form, need, err, c.form, c.need, c.bad)
		}
	}
}

// stub answers VerifyClientVersion and echoes Execute's statement.
type stub struct{ graph.GraphService }

func (stub) VerifyClientVersion(_ context.Context, req *graph.VerifyClientVersionReq) (*graph.VerifyClientVersionResp, error) {
	return &graph.VerifyClientVersionResp{ErrorCode: nebula.ErrorCode_SUCCEEDED, ErrorMsg: append([]byte("hello "), req.Version...)}, nil
}

func (stub) Execute(_ context.Context, sid int64, stmt []byte) (*graph.ExecutionResponse, error) {
	return &graph.ExecutionResponse{ErrorCode: nebula.ErrorCode_SUCCEEDED, LatencyInUs: sid, ErrorMsg: stmt}, nil
}

// ExecuteWithParameter echoes parameter x, a double.
func (stub) ExecuteWithParameter(_ context.Context, sid int64, _ []byte, params map[string]*nebula.Value) (*graph.ExecutionResponse, error) {
	msg := "no double x"
	if x := params["x"]; x != nil && x.FVal != nil {
		msg = strconv.FormatFloat(*x.FVal, 'g', -1, 64)
	}
	return &graph.ExecutionResponse{ErrorCode: nebula.ErrorCode_SUCCEEDED, LatencyInUs: sid, ErrorMsg: []byte(msg)}, nil
}

// logBuf collects a server's log.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) lines(substr string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.b.String(), "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return out
}

// serveStub serves stub on host, a port the kernel picks; log gets Info
// and above.
func serveStub(t *testing.T, host string) (*Server, *logBuf) {
	t.Helper()
	lb := &logBuf{}
	log := slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := Listen(net.JoinHostPort(host, "0"), graph.NewGraphServiceProcessor(stub{}), log)
	if err != nil {
		t.Fatalf("listen on %s: %v", host, err)
	}
	t.Cleanup(func() { srv.Stop() })
	return srv, lb
}

// tap records the first bytes a client receives.
type tap struct {
	thrift.TTransport
	head []byte
}

func (t *tap) Read(p []byte) (int, error) {
	n, err := t.TTransport.Read(p)
	if room := 16 - len(t.head); room > 0 {
		t.head = append(t.head, p[:min(n, room)]...)
	}
	return n, err
}

// clientForms are the ways a client may speak to the server, and what the
// first bytes of the server's reply must be in each.
var clientForms = []struct {
	name  string
	proto func(trans thrift.TTransport, conf *thrift.TConfiguration) thrift.TProtocol
	reply func(head []byte) bool
}{
	{"THeader, binary",
		func(tr thrift.TTransport, conf *thrift.TConfiguration) thrift.TProtocol {
			return thrift.NewTHeaderProtocolConf(tr, withProtocolID(conf, thrift.THeaderProtocolBinary))
		},
		func(h []byte) bool { return isHeaderReply(h, thrift.THeaderProtocolBinary) }},
	{"THeader, compact",
		func(tr thrift.TTransport, conf *thrift.TConfiguration) thrift.TProtocol {
			return thrift.NewTHeaderProtocolConf(tr, withProtocolID(conf, thrift.THeaderProtocolCompact))
		},
		func(h []byte) bool { return isHeaderReply(h, thrift.THeaderProtocolCompact) }},
	{"framed binary",
		func(tr thrift.TTransport, conf *thrift.TConfiguration) thrift.TProtocol {
			return thrift.NewTBinaryProtocolConf(thrift.NewTFramedTransportConf(tr, conf), conf)
		},
		func(h []byte) bool { return h[4] == 0x80 && h[5] == 0x01 }},
	{"framed compact",
		func(tr thrift.TTransport, conf *thrift.TConfiguration) thrift.TProtocol {
			return thrift.NewTCompactProtocolConf(thrift.NewTFramedTransportConf(tr, conf), conf)
		},
		func(h []byte) bool { return h[4] == 0x82 }},
	{"unframed binary",
		func(tr thrift.TTransport, conf *thrift.TConfiguration) thrift.TProtocol {
			return thrift.NewTBinaryProtocolConf(tr, conf)
		},
		func(h []byte) bool { return h[0] == 0x80 && h[1] == 0x01 }},
	{"unframed compact",
		func(tr thrift.TTransport, conf *thrift.TConfiguration) thrift.TProtocol {
			return thrift.NewTCompactProtocolConf(tr, conf)
		},
		func(h []byte) bool { return h[0] == 0x82 }},
}

func withProtocolID(conf *thrift.TConfiguration, id thrift.THeaderProtocolID) *thrift.TConfiguration {
	c := *conf
	c.THeaderProtocolID = &id
	return &c
}

// isHeaderReply: frame length, THeader magic, flags, sequence id, header
// length, then the header's first varint, the protocol id.
func isHeaderReply(h []byte, id thrift.THeaderProtocolID) bool {
	return h[4] == 0x0f && h[5] == 0xff && h[14] == byte(id)
}

// dial connects a socket; a hung server fails the test after a minute
// instead of hanging it.
func dial(t *testing.T, addr string) (*tap, *thrift.TConfiguration) {
	t.Helper()
	conf := &thrift.TConfiguration{MaxFrameSize: 64 << 20, SocketTimeout: time.Minute, ConnectTimeout: time.Minute}
	sock := thrift.NewTSocketConf(addr, conf)
	if err := sock.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sock.Close() })
	return &tap{TTransport: sock}, conf
}

// Every form THeaderTransport knows is answered in kind, over several
// calls on one connection, with messages larger than any buffer.
func TestEveryClientFormAnsweredInKind(t *testing.T) {
	srv, lb := serveStub(t, "127.0.5.2")
	big := strings.Repeat("0123456789abcdef", 20000) // 320 kB
	for _, f := range clientForms {
		t.Run(f.name, func(t *testing.T) {
			tr, conf := dial(t, srv.Addr)
			p := f.proto(tr, conf)
			c := graph.NewGraphServiceClient(thrift.NewTStandardClient(p, p))
			ctx := context.Background()
			v, err := c.VerifyClientVersion(ctx, &graph.VerifyClientVersionReq{Version: []byte("3.0.0")})
			if err != nil {
				t.Fatalf("verifyClientVersion: %v", err)
			}
			if v.ErrorCode != nebula.ErrorCode_SUCCEEDED || string(v.ErrorMsg) != "hello 3.0.0" {
				t.Fatalf("verifyClientVersion = %v", v)
			}
			if !f.reply(tr.head) {
				t.Fatalf("reply starts % x: not %s", tr.head, f.name)
			}
			for i := int64(1); i <= 3; i++ {
				r, err := c.Execute(ctx, i, []byte(big))
				if err != nil {
					t.Fatalf("execute %d: %v", i, err)
				}
				if r.LatencyInUs != i || string(r.ErrorMsg) != big {
					t.Fatalf("execute %d: echo of %d bytes, latency %d", i, len(r.ErrorMsg), r.LatencyInUs)
				}
			}
		})
	}
	if w := lb.lines("level=WARN"); len(w) > 0 {
		t.Fatalf("warnings for thrift clients:\n%s", strings.Join(w, "\n"))
	}
}

// dialFrom connects from 127.0.5.4, so that the peer in the server's log
// is in our range too.
func dialFrom(addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 5, 4)}}
	return d.Dial("tcp", addr)
}

// readToEnd reads until the server closes the connection.
func readToEnd(t *testing.T, c net.Conn) []byte {
	t.Helper()
	b, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("reading until close: %v", err)
	}
	return b
}

// A peer that is no thrift client is closed, with one warning naming it
// and what it sent; the server goes on serving.
func TestUnrecognisedConnectionClosedAndLogged(t *testing.T) {
	old := sniffTimeout
	sniffTimeout = 50 * time.Millisecond // for "stalls"
	t.Cleanup(func() { sniffTimeout = old })
	srv, lb := serveStub(t, "127.0.5.3")

	rnd := rand.New(rand.NewPCG(7, 7))
	random := make([]byte, 64)
	for i := range random {
		random[i] = byte(rnd.Uint32())
	}
	for _, c := range []struct {
		name string
		send []byte
		why  string
	}{
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "exceeds"},
		{"random bytes", random, "exceeds"},
		{"tls client hello", []byte{0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03}, "exceeds"},
		// THeaderTransport would tell the empty frame by stale bytes of
		// its pooled buffer.
		{"empty frame", []byte{0, 0, 0, 0, 0x80, 0x01, 0x00, 0x01, 0, 0, 0, 0}, "a frame of 0 bytes"},
		// THeaderTransport would wait for the 4096 bytes announced.
		{"frame of text", append([]byte{0, 0, 0x10, 0}, "hello, not thrift"...), "neither a THeader"},
		{"short THeader frame", []byte{0, 0, 0, 6, 0x0f, 0xff, 0, 0, 0, 1}, "THeader frame of 6 bytes"},
		{"stalls", []byte{0, 0}, "sent only these bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := dialFrom(srv.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write(c.send); err != nil {
				t.Fatal(err)
			}
			if b := readToEnd(t, conn); len(b) > 0 {
				t.Fatalf("server answered % x", b)
			}
			peer := conn.LocalAddr().String()
			lines := lb.lines("peer=" + peer + " ")
			if len(lines) != 1 {
				t.Fatalf("%d log lines name %s, want 1:\n%s", len(lines), peer, strings.Join(lines, "\n"))
			}
			line := lines[0]
			t.Log(line)
			if !strings.Contains(line, "level=WARN") || !strings.Contains(line, c.why) {
				t.Fatalf("log line %q: want level=WARN and %q", line, c.why)
			}
			_, after, _ := strings.Cut(line, " hex=")
			logged, _, _ := strings.Cut(after, " ")
			want := hex.EncodeToString(c.send[:min(len(c.send), 16)])
			if len(logged) < min(8, len(want)) || !strings.HasPrefix(want, logged) {
				t.Fatalf("logged hex=%s, want a prefix of %s of at least 4 bytes", logged, want)
			}
			if len(c.send) >= 4 && !strings.Contains(line, "first_bytes=") {
				t.Fatalf("log line %q does not quote the bytes", line)
			}
		})
	}
	// Still serving.
	tr, conf := dial(t, srv.Addr)
	p := clientForms[0].proto(tr, conf)
	if _, err := graph.NewGraphServiceClient(thrift.NewTStandardClient(p, p)).VerifyClientVersion(context.Background(), graph.NewVerifyClientVersionReq()); err != nil {
		t.Fatalf("after the garbage: %v", err)
	}
}

// Frames over MaxFrameSize are refused, as the first frame and later.
func TestOversizedFrameRejected(t *testing.T) {
	srv, lb := serveStub(t, "127.0.5.3")
	tooBig := binary.BigEndian.AppendUint32(nil, uint32(conf.MaxFrameSize)+1)

	t.Run("first frame", func(t *testing.T) {
		conn, err := dialFrom(srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write(append(tooBig, 0x0f, 0xff, 0, 0)); err != nil {
			t.Fatal(err)
		}
		readToEnd(t, conn)
		if l := lb.lines("peer=" + conn.LocalAddr().String() + " "); len(l) != 1 || !strings.Contains(l[0], "exceeds the 67108864 allowed") {
			t.Fatalf("log: %q", l)
		}
	})
	t.Run("after a call", func(t *testing.T) {
		tr, conf := dial(t, srv.Addr)
		p := clientForms[0].proto(tr, conf)
		c := graph.NewGraphServiceClient(thrift.NewTStandardClient(p, p))
		if _, err := c.VerifyClientVersion(context.Background(), graph.NewVerifyClientVersionReq()); err != nil {
			t.Fatal(err)
		}
		sock := tr.TTransport.(*thrift.TSocket)
		if _, err := sock.Write(tooBig); err != nil {
			t.Fatal(err)
		}
		if b := readToEnd(t, sock.Conn()); len(b) > 0 {
			t.Fatalf("server answered % x", b)
		}
	})
}

// fbthrift's compact protocol (what nebula-go >= 3.4 sends inside THeader)
// writes version 2, with doubles big-endian; Apache Thrift's writes version
// 1, doubles little-endian. The server reads both, per message, also when
// it skips the message of a method it does not know.
func TestFbthriftCompactVersion2(t *testing.T) {
	srv, _ := serveStub(t, "127.0.5.2")
	tr, conf := dial(t, srv.Addr)
	ht := thrift.NewTHeaderTransportConf(tr, withProtocolID(conf, thrift.THeaderProtocolCompact))
	hp := thrift.NewTHeaderProtocolConf(ht, withProtocolID(conf, thrift.THeaderProtocolCompact))
	ctx := context.Background()
	const x = 12345.678
	for i, c := range []struct {
		version byte
		method  string
	}{{2, "executeWithParameter"}, {1, "executeWithParameter"}, {2, "noSuchMethod"}, {2, "executeWithParameter"}} {
		// The call as Apache Thrift's compact protocol writes it...
		buf := thrift.NewTMemoryBuffer()
		cp := thrift.NewTCompactProtocolConf(buf, conf)
		f := float64(x)
		args := &graph.GraphServiceExecuteWithParameterArgs{SessionId: int64(i), Stmt: []byte("RETURN $x"),
			ParameterMap: map[string]*nebula.Value{"x": {FVal: &f}}}
		if err := cp.WriteMessageBegin(ctx, c.method, thrift.CALL, int32(100+i)); err != nil {
			t.Fatal(err)
		}
		if err := args.Write(ctx, cp); err != nil {
			t.Fatal(err)
		}
		if err := cp.WriteMessageEnd(ctx); err != nil {
			t.Fatal(err)
		}
		msg := buf.Bytes()
		// ... made fbthrift's version 2.
		if c.version == 2 {
			msg[1] = msg[1]&^thrift.COMPACT_VERSION_MASK | 2
			le := binary.LittleEndian.AppendUint64(nil, math.Float64bits(x))
			be := binary.BigEndian.AppendUint64(nil, math.Float64bits(x))
			if bytes.Count(msg, le) != 1 {
				t.Fatalf("the double is not once in % x", msg)
			}
			msg = bytes.Replace(msg, le, be, 1)
		}
		if _, err := ht.Write(msg); err != nil {
			t.Fatal(err)
		}
		if err := ht.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		name, typ, seq, err := hp.ReadMessageBegin(ctx)
		if err != nil {
			t.Fatalf("%s, version %d: %v", c.method, c.version, err)
		}
		if name != c.method || seq != int32(100+i) {
			t.Fatalf("%s, version %d: reply %s %d", c.method, c.version, name, seq)
		}
		if c.method == "noSuchMethod" {
			ae := thrift.NewTApplicationException(0, "")
			if err := ae.Read(ctx, hp); err != nil {
				t.Fatal(err)
			}
			if typ != thrift.EXCEPTION || ae.TypeId() != thrift.UNKNOWN_METHOD {
				t.Fatalf("unknown method: reply %v %v", typ, ae)
			}
			if err := hp.ReadMessageEnd(ctx); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var res graph.GraphServiceExecuteWithParameterResult
		if err := res.Read(ctx, hp); err != nil {
			t.Fatal(err)
		}
		if err := hp.ReadMessageEnd(ctx); err != nil {
			t.Fatal(err)
		}
		if typ != thrift.REPLY || res.Success == nil {
			t.Fatalf("version %d: reply %v %v", c.version, typ, res.Success)
		}
		if got := string(res.Success.ErrorMsg); got != "12345.678" || res.Success.LatencyInUs != int64(i) {
			t.Fatalf("version %d: the server read x = %s, session %d", c.version, got, res.Success.LatencyInUs)
		}
	}
}
