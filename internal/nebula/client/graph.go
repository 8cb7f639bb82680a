package client

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/graph"
)

// GraphClient talks to one graphd with a single session. Safe for
// concurrent use; statements run one at a time.
type GraphClient struct {
	s       *session
	session atomic.Int64 // 0: not authenticated
}

// NewGraphClient connects to the graphd at addr and verifies our client
// version; a refusal is returned as a *CodeError.
func NewGraphClient(addr string, opts Options) (*GraphClient, error) {
	g := &GraphClient{s: newSession("graph", addr, opts, verifyGraphVersion)}
	ctx, cancel := context.WithTimeout(context.Background(), g.s.opts.ConnectTimeout+g.s.opts.RequestTimeout)
	defer cancel()
	if err := g.s.connect(ctx); err != nil {
		return nil, err
	}
	return g, nil
}

func verifyGraphVersion(ctx context.Context, c *Conn) error {
	req := graph.NewVerifyClientVersionReq()
	req.Version = []byte(ClientVersion)
	resp, err := graph.NewGraphServiceClient(c).VerifyClientVersion(ctx, req)
	if err != nil {
		return err
	}
	return checkCode("graph", "verifyClientVersion", resp.ErrorCode, resp.ErrorMsg, nil)
}

// Addr is the graphd address.
func (g *GraphClient) Addr() string { return g.s.addr }

// SessionID is the current session, 0 before Authenticate.
func (g *GraphClient) SessionID() int64 { return g.session.Load() }

func (g *GraphClient) do(ctx context.Context, method string, fn func(context.Context, *graph.GraphServiceClient) error) error {
	return g.s.call(ctx, method, func(ctx context.Context, c *Conn) error {
		return fn(ctx, graph.NewGraphServiceClient(c))
	})
}

// Authenticate opens a session used by later Execute calls and returns its
// id. Sessions live in graphd/metad, so they survive reconnects.
func (g *GraphClient) Authenticate(ctx context.Context, user, password string) (int64, error) {
	var resp *graph.AuthResponse
	err := g.do(ctx, "authenticate", func(ctx context.Context, c *graph.GraphServiceClient) (err error) {
		resp, err = c.Authenticate(ctx, []byte(user), []byte(password))
		return err
	})
	if err != nil {
		return 0, err
	}
	if err := checkCode("graph", "authenticate", resp.ErrorCode, resp.ErrorMsg, nil); err != nil {
		return 0, err
	}
	id := resp.GetSessionID()
	g.session.Store(id)
	return id, nil
}

// Execute runs one statement in the session. A non-SUCCEEDED error_code is
// a *CodeError carrying the server's error_msg; the response is returned
// with it.
func (g *GraphClient) Execute(ctx context.Context, stmt string) (*graph.ExecutionResponse, error) {
	sid := g.session.Load()
	var resp *graph.ExecutionResponse
	err := g.do(ctx, "execute", func(ctx context.Context, c *graph.GraphServiceClient) (err error) {
		resp, err = c.Execute(ctx, sid, []byte(stmt))
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp, checkCode("graph", "execute", resp.ErrorCode, resp.ErrorMsg, nil)
}

// Signout ends the session (a oneway call: graphd does not answer).
func (g *GraphClient) Signout(ctx context.Context) error {
	sid := g.session.Swap(0)
	if sid == 0 {
		return nil
	}
	return g.do(ctx, "signout", func(ctx context.Context, c *graph.GraphServiceClient) error {
		return c.Signout(ctx, sid)
	})
}

// Close signs out (best effort, briefly) and closes the connection.
func (g *GraphClient) Close() error {
	if g.session.Load() != 0 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = g.Signout(ctx)
		cancel()
	}
	return g.s.close()
}
