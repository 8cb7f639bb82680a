package client

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"
)

// testServer serves one thrift processor over framed binary on
// 127.0.0.1:0, and can drop its client connections on demand.
type testServer struct {
	ln      net.Listener
	proc    thrift.TProcessor
	accepts atomic.Int32

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func serve(t *testing.T, proc thrift.TProcessor) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{ln: ln, proc: proc, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.acceptLoop()
	t.Cleanup(s.stop)
	return s
}

func (s *testServer) addr() string { return s.ln.Addr().String() }

func (s *testServer) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.accepts.Add(1)
		s.mu.Lock()
		s.conns[nc] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.handle(nc)
	}
}

func (s *testServer) handle(nc net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, nc)
		s.mu.Unlock()
		nc.Close()
	}()
	conf := &thrift.TConfiguration{}
	proto := thrift.NewTBinaryProtocolConf(thrift.NewTFramedTransportConf(newNetTransport(nc), conf), conf)
	for {
		ok, err := s.proc.Process(context.Background(), proto, proto)
		if !ok {
			return
		}
		var te thrift.TException
		if err != nil && errors.As(err, &te) && te.TExceptionType() == thrift.TExceptionTypeTransport {
			return
		}
	}
}

// dropConns closes every open client connection, as a restarting server
// would.
func (s *testServer) dropConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for nc := range s.conns {
		nc.Close()
	}
}

func (s *testServer) stop() {
	s.ln.Close()
	s.dropConns()
	s.wg.Wait()
}
