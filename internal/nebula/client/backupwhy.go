package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/nebula-open/nebula-br/internal/hostmap"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
)

// metad's createBackup answers a bare code: CreateBackupResp has no
// message field, and metad names the failed host and step only in its
// log. So when createBackup fails with a code that does not say why, the
// client asks metad what it can through calls every NebulaGraph 3.x metad
// has (listHosts, listSnapshots) and attaches the answer as the
// CodeError's Cause.

// HostsDownError is why a createBackup failed, as found out afterwards:
// storage hosts that hold parts of the spaces are offline.
type HostsDownError struct {
	// Offline are listed by metad as OFFLINE (no heartbeat for a while).
	Offline []string
	// Unreachable are listed ONLINE but refuse connections: they have just
	// stopped, and metad has not noticed yet.
	Unreachable []HostDown
}

// HostDown is a storage host metad lists ONLINE that cannot be connected.
type HostDown struct {
	Addr string
	Err  error
}

func (e *HostsDownError) Error() string {
	var parts []string
	if n := len(e.Offline); n > 0 {
		if n == 1 {
			parts = append(parts, fmt.Sprintf("storage host %s is OFFLINE: start it (or wait until it registers), then retry", e.Offline[0]))
		} else {
			parts = append(parts, fmt.Sprintf("storage hosts %s are OFFLINE: start them (or wait until they register), then retry", strings.Join(e.Offline, ", ")))
		}
	}
	for _, h := range e.Unreachable {
		parts = append(parts, fmt.Sprintf("storage host %s does not accept connections (%s) though metad still lists it ONLINE (it has just stopped?): start it, then retry", h.Addr, causeText(h.Err)))
	}
	return strings.Join(parts, "; ")
}

// HostsDown returns the storage hosts err (a createBackup failure) was
// found to be caused by; none when no host was found down.
func HostsDown(err error) []string {
	var hd *HostsDownError
	if !errors.As(err, &hd) {
		return nil
	}
	out := append([]string(nil), hd.Offline...)
	for _, h := range hd.Unreachable {
		out = append(out, h.Addr)
	}
	return out
}

// probeTimeout bounds each connect made to explain a failure.
const probeTimeout = 2 * time.Second

// explainBackup finds out why createBackup failed with code; nil if it
// cannot tell. spaces are the spaces asked for (nil: all).
func (m *MetaClient) explainBackup(ctx context.Context, code nebula.ErrorCode, spaces []string) error {
	if ctx.Err() != nil {
		return nil
	}
	switch code {
	case nebula.ErrorCode_E_BACKUP_RUNNING_JOBS:
		return m.explainRunning(ctx)
	case nebula.ErrorCode_E_BACKUP_FAILED, nebula.ErrorCode_E_BLOCK_WRITE_FAILURE, nebula.ErrorCode_E_SNAPSHOT_FAILURE,
		nebula.ErrorCode_E_RPC_FAILURE, nebula.ErrorCode_E_FAIL_TO_CONNECT, nebula.ErrorCode_E_NO_HOSTS:
		if hd := m.hostsDown(ctx, spaces); hd != nil {
			return hd
		}
	}
	return nil
}

// hostsDown checks the storage hosts holding parts of spaces (every
// space when nil): those metad lists OFFLINE, else those that refuse a
// connection although listed ONLINE (metad notices a stopped host only
// when its heartbeats have been missing for a while).
func (m *MetaClient) hostsDown(ctx context.Context, spaces []string) *HostsDownError {
	hosts, err := m.ListHosts(ctx, meta.ListHostType_ALLOC)
	if err != nil {
		return nil
	}
	want := map[string]bool{}
	for _, s := range spaces {
		want[s] = true
	}
	holds := func(h *meta.HostItem) bool {
		for name, parts := range h.AllParts {
			if len(parts) > 0 && (len(want) == 0 || want[name]) {
				return true
			}
		}
		return false
	}
	var relevant []*meta.HostItem
	for _, h := range hosts {
		if h.HostAddr != nil && holds(h) {
			relevant = append(relevant, h)
		}
	}
	if len(relevant) == 0 {
		// No part placement in the answer: every storage host counts.
		for _, h := range hosts {
			if h.HostAddr != nil {
				relevant = append(relevant, h)
			}
		}
	}
	hd := &HostsDownError{}
	var online []string
	for _, h := range relevant {
		a := hostPort(h.HostAddr)
		if h.Status == meta.HostStatus_ONLINE {
			online = append(online, a)
		} else {
			hd.Offline = append(hd.Offline, a)
		}
	}
	if len(hd.Offline) > 0 {
		return hd
	}
	errs := make([]error, len(online))
	var wg sync.WaitGroup
	for i, a := range online {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{Timeout: probeTimeout}
			nc, err := d.DialContext(ctx, "tcp", hostmap.Dial(a))
			if err == nil {
				nc.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && ctx.Err() == nil {
			hd.Unreachable = append(hd.Unreachable, HostDown{Addr: online[i], Err: err})
		}
	}
	if len(hd.Unreachable) == 0 {
		return nil
	}
	return hd
}

// explainRunning names what keeps createBackup from running: a backup in
// progress (its snapshot is INVALID until it completes), else a job that
// changes data, which NebulaGraph's metad refuses backups during.
func (m *MetaClient) explainRunning(ctx context.Context) error {
	snaps, err := m.ListSnapshots(ctx)
	if err != nil {
		return nil
	}
	var invalid []string
	for _, s := range snaps {
		if s.Status == meta.SnapshotStatus_INVALID {
			invalid = append(invalid, string(s.Name))
		}
	}
	switch len(invalid) {
	case 0:
		return errors.New("no backup is in progress (no INVALID snapshot), so a job that changes data is running (index rebuild, compaction, ingest or balance): see SHOW JOBS in nebula-console, wait for it to finish (or STOP JOB it), then retry")
	case 1:
		return fmt.Errorf("backup %s is in progress (its snapshot stays INVALID until it completes): wait for it to finish, then retry; if no backup is running, a failed one left it: `br cleanup --snapshot-only --name %s` drops it", invalid[0], invalid[0])
	}
	return fmt.Errorf("backups %s are in progress (their snapshots stay INVALID until they complete): wait for them to finish, then retry; if no backup is running, failed ones left them: `br cleanup --snapshot-only --name NAME` drops one", strings.Join(invalid, ", "))
}

func hostPort(h *nebula.HostAddr) string {
	return net.JoinHostPort(h.Host, fmt.Sprint(h.Port))
}
