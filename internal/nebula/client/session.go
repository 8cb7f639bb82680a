package client

import (
	"context"
	"fmt"
	"sync"
)

// session is the mutex-guarded, lazily redialled connection behind every
// typed client.
type session struct {
	service string
	addr    string
	opts    Options
	// handshake runs on every new connection (e.g. verifyClientVersion).
	handshake func(ctx context.Context, c *Conn) error

	mu     sync.Mutex
	conn   *Conn
	closed bool
}

func newSession(service, addr string, opts Options, handshake func(context.Context, *Conn) error) *session {
	return &session{service: service, addr: addr, opts: opts.withDefaults(), handshake: handshake}
}

// connect dials eagerly so constructors report unreachable servers.
func (s *session) connect(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		return nil
	}
	return s.connectLocked(ctx)
}

func (s *session) connectLocked(ctx context.Context) error {
	c, err := Dial(ctx, s.addr, s.opts)
	if err != nil {
		err.(*TransportError).Service = s.service
		return err
	}
	if s.handshake != nil {
		// The handshake gets a short timeout of its own: a peer that is
		// not a NebulaGraph server is told apart in seconds, not after
		// RequestTimeout.
		hctx, cancel := context.WithTimeout(ctx, s.opts.HandshakeTimeout)
		err := s.handshake(hctx, c)
		timedOut := err != nil && hctx.Err() != nil && ctx.Err() == nil && isTimeout(err)
		cancel()
		if err != nil {
			err = s.diagnose(ctx, c, "verifyClientVersion", err, true, timedOut)
			_ = c.Close()
			return s.wrap("verifyClientVersion", err)
		}
	}
	s.conn = c
	return nil
}

func (s *session) dropLocked() {
	if s.conn != nil {
		_ = s.conn.Close()
		s.conn = nil
	}
}

// call runs fn on the connection. A transport failure on a connection that
// had already been used (the server may have closed it while idle) is
// retried once on a fresh connection; a failure on a fresh one is not.
// If the old connection died after the server ran the request but before
// the reply arrived, the request runs twice; NebulaGraph's calls used here
// are idempotent or report the repeat (e.g. E_EXISTED).
func (s *session) call(ctx context.Context, method string, fn func(ctx context.Context, c *Conn) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for attempt := 0; ; attempt++ {
		if s.closed {
			return &TransportError{Service: s.service, Addr: s.addr, Method: method, Err: ErrClosed}
		}
		fresh := false
		if s.conn == nil {
			if err := s.connectLocked(ctx); err != nil {
				return err
			}
			fresh = true
		}
		c := s.conn
		err := fn(ctx, c)
		if c.broken {
			s.dropLocked()
		}
		if err == nil {
			return nil
		}
		if fresh && s.handshake == nil {
			// No handshake vetted the peer: garbage in reply to the first
			// call is told apart here.
			err = s.diagnose(ctx, c, method, err, false, false)
		}
		if isApplicationError(err) || fresh || attempt > 0 || ctx.Err() != nil {
			return s.wrap(method, err)
		}
	}
}

// wrap names the service and address in err unless it already carries them.
func (s *session) wrap(method string, err error) error {
	switch e := err.(type) {
	case *CodeError, *PartError:
		return err
	case *WrongServerError:
		return &TransportError{Service: s.service, Addr: s.addr, Method: method, Err: e}
	case *TransportError:
		e.Service, e.Method = s.service, method
		return e
	}
	if isApplicationError(err) {
		return fmt.Errorf("%s %s: %s: %w", s.service, s.addr, method, err)
	}
	return &TransportError{Service: s.service, Addr: s.addr, Method: method, Err: err}
}

func (s *session) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.dropLocked()
	return nil
}
