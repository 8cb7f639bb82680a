package client

import (
	"errors"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/storage"
)

// rawServer accepts on 127.0.0.1:0 and hands every connection to fn; the
// connections stay open until the test ends.
func rawServer(t *testing.T, fn func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				fn(nc)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, nc := range conns {
			nc.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// dialMeta runs NewMetaClient against addr and checks that it fails with
// a *TransportError, quickly (loosely bounded: CI machines are slow).
func dialMeta(t *testing.T, addr string) error {
	t.Helper()
	start := time.Now()
	m, err := NewMetaClient(addr, Options{})
	took := time.Since(start)
	t.Logf("failed after %s: %v", took.Round(time.Millisecond), err)
	if err == nil {
		m.Close()
		t.Fatal("NewMetaClient succeeded")
	}
	if took > 10*time.Second {
		t.Errorf("took %s to fail, want a few seconds", took)
	}
	var te *TransportError
	if !errors.As(err, &te) || te.Addr != addr {
		t.Errorf("want a *TransportError naming %s, got %T", addr, err)
	}
	var ws *WrongServerError
	if !errors.As(err, &ws) {
		t.Errorf("want a *WrongServerError inside, got %T", err)
	}
	return err
}

func wantMessage(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n got %v\nwant %s", err, want)
	}
}

// An HTTP server that waits for the end of the request line (Go's does)
// answers once we stop sending.
func TestMetaAddrIsHTTPServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	err := dialMeta(t, addr)
	wantMessage(t, err, addr+` is not a NebulaGraph metad: it answered like an HTTP server (frame size 1213486160 is "HTTP"): --meta takes metad's thrift port, 9559 by default`)
}

// An HTTP server that answers garbage at once is recognised at once.
func TestMetaAddrIsHTTPServerAnsweringAtOnce(t *testing.T) {
	addr := rawServer(t, func(nc net.Conn) {
		nc.Write([]byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"))
		nc.Close()
	})
	start := time.Now()
	err := dialMeta(t, addr)
	wantMessage(t, err, addr+` is not a NebulaGraph metad: it answered like an HTTP server (frame size 1213486160 is "HTTP"): --meta takes metad's thrift port, 9559 by default`)
	if took := time.Since(start); took > DefaultHandshakeTimeout {
		t.Errorf("took %s, want no wait for the handshake timeout", took)
	}
}

func TestMetaAddrNeverAnswers(t *testing.T) {
	addr := rawServer(t, func(net.Conn) {}) // accepts, reads nothing, says nothing
	err := dialMeta(t, addr)
	wantMessage(t, err, addr+` accepted the connection but did not answer verifyClientVersion within 2s: is it a NebulaGraph metad? --meta takes metad's thrift port, 9559 by default`)
}

func TestMetaAddrSendsRandomBytes(t *testing.T) {
	junk := make([]byte, 64)
	rand.New(rand.NewSource(1)).Read(junk)
	junk[0] |= 0x80 // no sane frame size
	addr := rawServer(t, func(nc net.Conn) { nc.Write(junk) })
	err := dialMeta(t, addr)
	if !strings.HasPrefix(err.Error(), addr+" is not a NebulaGraph metad: it answered with bytes that are not a thrift frame (frame size ") ||
		!strings.HasSuffix(err.Error(), "--meta takes metad's thrift port, 9559 by default") {
		t.Fatalf("error = %v", err)
	}
}

func TestMetaAddrIsAnotherThriftService(t *testing.T) {
	s := serve(t, storage.NewStorageAdminServiceProcessor(fakeAdmin{}))
	err := dialMeta(t, s.addr())
	wantMessage(t, err, s.addr()+` is not a NebulaGraph metad: it is a thrift server that does not know verifyClientVersion (another NebulaGraph service's port?): --meta takes metad's thrift port, 9559 by default`)
}

// Clients without a handshake recognise garbage in reply to their first
// call.
func TestStorageAddrIsHTTPServer(t *testing.T) {
	addr := rawServer(t, func(nc net.Conn) {
		buf := make([]byte, 4)
		nc.Read(buf)
		nc.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
		nc.Close()
	})
	a, err := NewStorageAdminClient(addr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_, err = a.CreateCheckpoint(ctx, []nebula.GraphSpaceID{1}, "x")
	var te *TransportError
	if !errors.As(err, &te) {
		t.Fatalf("want a *TransportError, got %v", err)
	}
	wantMessage(t, err, addr+` is not a NebulaGraph storaged: it answered like an HTTP server (frame size 1213486160 is "HTTP")`)
}

// The handshake timeout bounds only the handshake: later calls get
// RequestTimeout.
func TestHandshakeTimeoutOnlyBoundsHandshake(t *testing.T) {
	f := &fakeMeta{}
	s := serve(t, meta.NewMetaServiceProcessor(f))
	m, err := NewMetaClient(s.addr(), Options{HandshakeTimeout: 50 * time.Millisecond, RequestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	f.delay.Store(int64(200 * time.Millisecond))
	if _, err := m.ListSpaces(ctx); err != nil {
		t.Fatalf("a call slower than the handshake timeout: %v", err)
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		head   string
		thrift bool
	}{
		{"\x00\x00\x00\x20\x80\x01\x00\x02", true},  // binary reply
		{"\x00\x00\x00\x40\x0f\xff\x00\x00", true},  // THeader
		{"\x00\x00\x00\x20\x82\x21", true},          // compact
		{"\x00\x00\x00\x20", true},                  // too short to tell
		{"HTTP/1.1 400", false},                     //
		{"\x15\x03\x01\x00\x02\x02\x0a", false},     // TLS alert
		{"SSH-2.0-OpenSSH_9.6\r\n", false},          //
		{"-ERR unknown command\r\n", false},         // text
		{"\x20\x00\x00\x00\x80\x01\x00\x02", false}, // frame too large
		{"\x00\x00\x00\x20\x12\x34\x56\x78", false}, // no protocol marker
	} {
		reason, sure := classify([]byte(c.head), DefaultMaxFrameSize)
		if (reason == "") != c.thrift || (reason != "" && !sure) {
			t.Errorf("classify(%q) = %q, %v", c.head, reason, sure)
		}
	}
}
