// Package rpc serves thrift processors the way NebulaGraph does, one
// goroutine per connection. Every connection may speak fbthrift's header
// transport (THeader, binary or compact protocol inside: what nebula-go
// >= 3.4 and nebula-console 3.8 use) or framed binary (older NebulaGraph
// clients and our own internal/nebula/client): see transport.go for how a
// connection is recognised, compat.go for fbthrift's compact protocol.
package rpc

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/nebula-open/nebula-br/internal/hostmap"

	"github.com/apache/thrift/lib/go/thrift"
)

// Server is a listening thrift server.
type Server struct {
	Addr string // the address actually bound
	srv  *thrift.TSimpleServer
	done chan error
}

// conf bounds frames so a client speaking garbage (say, HTTP) gets its
// connection closed instead of making the server allocate its "length".
var conf = &thrift.TConfiguration{
	MaxFrameSize:       64 << 20,
	MaxMessageSize:     64 << 20,
	TBinaryStrictWrite: thrift.BoolPtr(true),
	TBinaryStrictRead:  thrift.BoolPtr(false),
}

// Listen binds addr and serves processor until Stop. Each connection's
// form (THeader, framed or unframed binary or compact) is recognised from
// its first bytes and every reply goes out in the same form; a connection
// that is none of them is logged (Warn) and closed.
func Listen(addr string, processor thrift.TProcessor, log *slog.Logger) (*Server, error) {
	sock, err := thrift.NewTServerSocketTimeout(hostmap.Listen(addr), 0)
	if err != nil {
		return nil, err
	}
	if err := sock.Listen(); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	bound := sock.Addr().String()
	// With THeaderProtocol, TSimpleServer answers on the protocol instance
	// that read the request, so the reply takes the client's form.
	srv := thrift.NewTSimpleServer4(compatProcessor{processor}, sock,
		&transportFactory{conf: conf, log: log, addr: bound},
		thrift.NewTHeaderProtocolFactoryConf(conf))
	srv.SetLogger(func(msg string) { log.Debug("thrift", "msg", msg) })
	s := &Server{Addr: bound, srv: srv, done: make(chan error, 1)}
	go func() { s.done <- srv.Serve() }()
	return s, nil
}

// Stop closes the listener and open connections.
func (s *Server) Stop() error {
	thrift.ServerStopTimeout = 300 * time.Millisecond
	err := s.srv.Stop()
	<-s.done
	return err
}

// ListenAddr is where a service with identity host:port listens: the
// host itself when it is an IP, every interface when it is a DNS name
// (on Kubernetes --local_ip is the pod's FQDN).
func ListenAddr(host string, port int) string {
	addr := net.JoinHostPort(host, fmt.Sprint(port))
	if l := hostmap.Listen(addr); l != addr {
		return l
	}
	if net.ParseIP(host) != nil {
		return addr
	}
	return net.JoinHostPort("0.0.0.0", fmt.Sprint(port))
}

// Every runs fn now and then every interval until ctx ends.
func Every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		fn()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// storaged's neighbouring ports, as NebulaGraph numbers them: the admin
// service (backups) one below the service port (9778), raft one above (9780).
func StorageAdminPort(port int) int { return port - 1 }

// StorageRaftPort is where storaged's raft transport listens.
func StorageRaftPort(port int) int { return port + 1 }
