// Package graphd is nebula-lite's query service: GraphService over thrift,
// a useful subset of nGQL executed against metad (schema, placement) and
// storaged (data), and SHOW FINGERPRINT to prove restores exact.
package graphd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nebula-open/nebula-br/internal/lite/ngql"
	"github.com/nebula-open/nebula-br/internal/lite/rpc"
	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/graph"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
)

// Config of a graphd (NebulaGraph's flag names in comments).
type Config struct {
	LocalIP           string        // --local_ip
	Port              int           // --port
	MetaAddr          string        // --meta_server_addrs (first one)
	Root              string        // install root, reported to metad
	HeartbeatInterval time.Duration // --heartbeat_interval_secs
	Version           string
	Logger            *slog.Logger
}

// Server is a running graphd.
type Server struct {
	cfg     Config
	log     *slog.Logger
	meta    *client.MetaClient
	catalog *catalog
	router  *router
	srv     *rpc.Server
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	nextSession atomic.Int64
	mu          sync.Mutex
	sessions    map[int64]*session
}

type session struct {
	user  string
	space string
}

// Start connects to metad and serves GraphService.
func Start(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 10 * time.Second
	}
	m, err := client.NewMetaClient(cfg.MetaAddr, client.Options{})
	if err != nil {
		return nil, fmt.Errorf("graphd: reach metad: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, meta: m, catalog: newCatalog(m),
		router: &router{clients: map[string]*client.LiteStorageClient{}}, sessions: map[int64]*session{}}
	s.nextSession.Store(time.Now().UnixNano() & 0xffffffffff)
	s.srv, err = rpc.Listen(rpc.ListenAddr(cfg.LocalIP, cfg.Port), graph.NewGraphServiceProcessor(handler{s}), s.log)
	if err != nil {
		m.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		rpc.Every(ctx, cfg.HeartbeatInterval, func() {
			_, err := m.HeartBeat(ctx, &meta.HBReq{
				Role: meta.HostRole_GRAPH, Host: &nebula.HostAddr{Host: cfg.LocalIP, Port: nebula.Port(cfg.Port)},
				Dir: &nebula.DirInfo{Root: []byte(cfg.Root), Data: [][]byte{}}, GitInfoSha: []byte("nebula-lite"), Version: []byte(cfg.Version),
			})
			if err != nil && ctx.Err() == nil {
				s.log.Warn("heartbeat failed", "meta", cfg.MetaAddr, "err", err)
			}
		})
	}()
	s.log.Info("graphd serving", "addr", net.JoinHostPort(cfg.LocalIP, strconv.Itoa(cfg.Port)))
	return s, nil
}

// Stop stops serving.
func (s *Server) Stop() error {
	s.cancel()
	s.srv.Stop()
	s.wg.Wait()
	s.router.close()
	return s.meta.Close()
}

// Errors of execution carry the code graphd answers with.
type queryError struct {
	code nebula.ErrorCode
	msg  string
}

func (e *queryError) Error() string { return e.msg }

func semanticf(format string, args ...any) error {
	return &queryError{nebula.ErrorCode_E_SEMANTIC_ERROR, fmt.Sprintf(format, args...)}
}

func execf(format string, args ...any) error {
	return &queryError{nebula.ErrorCode_E_EXECUTION_ERROR, fmt.Sprintf(format, args...)}
}

type handler struct{ s *Server }

var _ graph.GraphService = handler{}

func (h handler) Authenticate(ctx context.Context, username, password []byte) (*graph.AuthResponse, error) {
	// nebula-lite has no users: any name with a non-empty password works,
	// as with NebulaGraph's enable_authorize=false.
	if len(username) == 0 {
		return &graph.AuthResponse{ErrorCode: nebula.ErrorCode_E_BAD_USERNAME_PASSWORD, ErrorMsg: []byte("user name is empty")}, nil
	}
	id := h.s.nextSession.Add(1)
	h.s.mu.Lock()
	h.s.sessions[id] = &session{user: string(username)}
	h.s.mu.Unlock()
	off := int32(0)
	return &graph.AuthResponse{ErrorCode: nebula.ErrorCode_SUCCEEDED, SessionID: &id, TimeZoneOffsetSeconds: &off, TimeZoneName: []byte("UTC")}, nil
}

func (h handler) Signout(ctx context.Context, sessionID int64) error {
	h.s.mu.Lock()
	delete(h.s.sessions, sessionID)
	h.s.mu.Unlock()
	return nil
}

func (h handler) VerifyClientVersion(ctx context.Context, req *graph.VerifyClientVersionReq) (*graph.VerifyClientVersionResp, error) {
	if v := string(req.Version); !strings.HasPrefix(v, "3.") {
		return &graph.VerifyClientVersionResp{ErrorCode: nebula.ErrorCode_E_CLIENT_SERVER_INCOMPATIBLE,
			ErrorMsg: []byte(fmt.Sprintf("client version %q is not supported: nebula-lite speaks NebulaGraph 3.x", v))}, nil
	}
	return &graph.VerifyClientVersionResp{ErrorCode: nebula.ErrorCode_SUCCEEDED}, nil
}

func (h handler) Execute(ctx context.Context, sessionID int64, stmt []byte) (*graph.ExecutionResponse, error) {
	start := time.Now()
	resp := &graph.ExecutionResponse{ErrorCode: nebula.ErrorCode_SUCCEEDED}
	h.s.mu.Lock()
	sess := h.s.sessions[sessionID]
	h.s.mu.Unlock()
	if sess == nil {
		resp.ErrorCode, resp.ErrorMsg = nebula.ErrorCode_E_SESSION_INVALID, []byte(fmt.Sprintf("Session `%d' not found: authenticate first", sessionID))
		return resp, nil
	}
	ds, err := h.s.execute(ctx, sess, string(stmt))
	resp.LatencyInUs = time.Since(start).Microseconds()
	if sess.space != "" {
		resp.SpaceName = []byte(sess.space)
	}
	if err != nil {
		var se *ngql.SyntaxError
		var qe *queryError
		switch {
		case errors.As(err, &se):
			resp.ErrorCode = nebula.ErrorCode_E_SYNTAX_ERROR
		case errors.As(err, &qe):
			resp.ErrorCode = qe.code
		default:
			resp.ErrorCode = nebula.ErrorCode_E_EXECUTION_ERROR
		}
		resp.ErrorMsg = []byte(err.Error())
		return resp, nil
	}
	resp.Data = ds
	return resp, nil
}

// execute runs every statement of a query and answers with the last
// one's result, stopping at the first error (as NebulaGraph does).
func (s *Server) execute(ctx context.Context, sess *session, text string) (*nebula.DataSet, error) {
	stmts, err := ngql.Parse(text)
	if err != nil {
		return nil, err
	}
	var ds *nebula.DataSet
	for _, st := range stmts {
		ds, err = s.run(ctx, sess, st)
		if err != nil {
			return nil, err
		}
	}
	return ds, nil
}

func (s *Server) run(ctx context.Context, sess *session, st ngql.Stmt) (*nebula.DataSet, error) {
	switch st := st.(type) {
	case *ngql.CreateSpace:
		return nil, s.createSpace(ctx, st)
	case *ngql.DropSpace:
		err := s.meta.DropSpace(ctx, st.Name, st.IfExists)
		s.catalog.invalidate(st.Name)
		if client.IsCode(err, nebula.ErrorCode_E_SPACE_NOT_FOUND) {
			return nil, semanticf("SpaceNotFound: SpaceName `%s'", st.Name)
		}
		if sess.space == st.Name {
			sess.space = ""
		}
		return nil, err
	case *ngql.DescribeSpace:
		return s.describeSpace(ctx, st.Name)
	case *ngql.ShowSpaces:
		return s.showSpaces(ctx)
	case *ngql.Use:
		if _, err := s.catalog.space(ctx, st.Name); err != nil {
			return nil, err
		}
		sess.space = st.Name
		return nil, nil
	case *ngql.ShowHosts:
		return s.showHosts(ctx, st.Role)
	case *ngql.BalanceLeader:
		// NebulaGraph answers BALANCE LEADER with an empty success.
		if err := s.meta.LeaderBalance(ctx); err != nil {
			return nil, execf("Balance leader failed: %v", err)
		}
		return nil, nil
	}
	// Everything else works inside the session's space.
	if sess.space == "" {
		return nil, semanticf("SemanticError: Space was not chosen: run USE <space> first")
	}
	sp, err := s.catalog.space(ctx, sess.space)
	if err != nil {
		return nil, err
	}
	switch st := st.(type) {
	case *ngql.CreateSchema:
		return nil, s.createSchema(ctx, sp, st)
	case *ngql.DropSchema:
		return nil, s.dropSchema(ctx, sp, st)
	case *ngql.DescribeSchema:
		return describeSchema(sp, st)
	case *ngql.ShowSchemas:
		return showSchemas(sp, st.IsEdge), nil
	case *ngql.InsertVertex:
		return nil, s.insertVertex(ctx, sp, st)
	case *ngql.InsertEdge:
		return nil, s.insertEdge(ctx, sp, st)
	case *ngql.DeleteVertex:
		return nil, s.deleteVertex(ctx, sp, st)
	case *ngql.DeleteEdge:
		return nil, s.deleteEdge(ctx, sp, st)
	case *ngql.FetchVertices:
		return s.fetchVertices(ctx, sp, st)
	case *ngql.FetchEdges:
		return s.fetchEdges(ctx, sp, st)
	case *ngql.Go:
		return s.goTraverse(ctx, sp, st)
	case *ngql.ShowFingerprint:
		return s.fingerprint(ctx, sp)
	}
	return nil, semanticf("SemanticError: statement %T is not supported by nebula-lite", st)
}

// ExecuteJson answers like Execute, encoded as NebulaGraph's JSON
// response shape (errors and results with columns and rows).
func (h handler) ExecuteJson(ctx context.Context, sessionID int64, stmt []byte) ([]byte, error) {
	resp, err := h.Execute(ctx, sessionID, stmt)
	if err != nil {
		return nil, err
	}
	type row struct {
		Row []string `json:"row"`
	}
	type result struct {
		Columns   []string `json:"columns"`
		Data      []row    `json:"data"`
		LatencyUs int64    `json:"latencyInUs"`
		SpaceName string   `json:"spaceName"`
	}
	out := struct {
		Errors  []map[string]any `json:"errors"`
		Results []result         `json:"results"`
	}{Errors: []map[string]any{{"code": int64(resp.ErrorCode), "message": string(resp.ErrorMsg)}}}
	r := result{LatencyUs: resp.LatencyInUs, SpaceName: string(resp.SpaceName), Columns: []string{}, Data: []row{}}
	if resp.Data != nil {
		for _, c := range resp.Data.ColumnNames {
			r.Columns = append(r.Columns, string(c))
		}
		for _, rw := range resp.Data.Rows {
			var cells []string
			for _, v := range rw.Values {
				cells = append(cells, v.String())
			}
			r.Data = append(r.Data, row{Row: cells})
		}
	}
	out.Results = []result{r}
	return json.Marshal(out)
}

// Parameters are not supported: a query that uses none runs as usual.
func (h handler) ExecuteWithParameter(ctx context.Context, sessionID int64, stmt []byte, params map[string]*nebula.Value) (*graph.ExecutionResponse, error) {
	return h.Execute(ctx, sessionID, stmt)
}

func (h handler) ExecuteJsonWithParameter(ctx context.Context, sessionID int64, stmt []byte, params map[string]*nebula.Value) ([]byte, error) {
	return h.ExecuteJson(ctx, sessionID, stmt)
}
