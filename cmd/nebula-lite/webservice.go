package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/nebula-open/nebula-br/internal/lite/rpc"
)

// defaultHTTPPort is a role's --ws_http_port default: the port NebulaGraph's
// shipped flag files (and upstream's nebula-operator) give it, so that the
// three daemons of one host do not collide (NebulaGraph's built-in default
// is 11000 for all).
func defaultHTTPPort(role string) int {
	switch role {
	case "metad":
		return 19559
	case "storaged":
		return 19779
	case "graphd":
		return 19669
	}
	return 0
}

// statusHandler answers GET /status as NebulaGraph's web service does:
// 200 with {"git_info_sha":"...","status":"running"}; another method is
// 405. Kubernetes probes it (upstream's nebula-operator's readiness probe).
func statusHandler(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	b, _ := json.Marshal(map[string]string{"status": "running", "git_info_sha": Version})
	w.Write(b)
}

// webService is a daemon's HTTP port.
type webService struct{ srv *http.Server }

// startWebService serves /status on --ws_http_port, where the thrift
// service listens (--local_ip's address, every interface for a DNS name).
// A port that cannot be bound is logged, not fatal: the thrift service
// runs on (a probe of the port then fails, which shows it).
func startWebService(d *daemonFlags) *webService {
	if d.wsHTTPPort == 0 {
		return &webService{}
	}
	addr := rpc.ListenAddr(d.localIP, d.wsHTTPPort)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		d.logger.Error("http: cannot listen: /status is not served", "addr", addr, "err", err)
		return &webService{}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/status", statusHandler)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.logger.Error("http: serve", "err", err)
		}
	}()
	d.logger.Info("http serving", "addr", l.Addr().String())
	return &webService{srv: srv}
}

func (w *webService) stop() {
	if w.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	w.srv.Shutdown(ctx)
}
