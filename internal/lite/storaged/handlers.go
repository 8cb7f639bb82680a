package storaged

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/nebula-open/nebula-br/internal/lite/kv"
	"github.com/nebula-open/nebula-br/internal/lite/raftpart"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/storage"
)

// adminHandler serves StorageAdminService: the backup side of storaged.
type adminHandler struct{ s *Server }

var _ storage.StorageAdminService = adminHandler{}

func (h adminHandler) CreateCheckpoint(ctx context.Context, req *storage.CreateCPRequest) (*storage.CreateCPResp, error) {
	resp := &storage.CreateCPResp{Code: nebula.ErrorCode_SUCCEEDED}
	name := string(req.Name)
	if !validName(name) {
		resp.Code = nebula.ErrorCode_E_INVALID_PARM
		return resp, nil
	}
	for _, id := range req.SpaceIds {
		if h.s.store.Space(int32(id)) == nil {
			// A space without data on this host yet still gets a
			// checkpoint, empty, so that every host answers alike.
			if err := h.s.refreshParts(ctx); err != nil {
				h.s.log.Warn("refresh parts before checkpoint", "err", err)
			}
			break
		}
	}
	// The spaces are cut side by side: writes are blocked meanwhile.
	cps := make([]*kv.SpaceCheckpoint, len(req.SpaceIds))
	errs := make([]error, len(req.SpaceIds))
	var wg sync.WaitGroup
	for i, id := range req.SpaceIds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			cut := h.s.store.Checkpoint
			if req.GetWalOnly() { // an incremental backup's: the WAL only
				cut = h.s.store.CheckpointWAL
			}
			cps[i], errs[i] = cut(int32(id), name)
			if errs[i] == nil {
				h.s.log.Info("checkpoint cut", "space", id, "name", name, "parts", len(cps[i].Parts), "took", time.Since(start))
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			continue
		}
		h.s.log.Error("checkpoint failed", "space", req.SpaceIds[i], "name", name, "err", err)
		for j, cp := range cps {
			if cp != nil {
				h.s.store.DropCheckpoint(int32(req.SpaceIds[j]), name)
			}
		}
		resp.Code = nebula.ErrorCode_E_BACKUP_FAILED
		if errors.Is(err, kv.ErrSpaceNotFound) {
			resp.Code = nebula.ErrorCode_E_SPACE_NOT_FOUND
		}
		return resp, nil
	}
	for i, cp := range cps {
		id := req.SpaceIds[i]
		info := &nebula.CheckpointInfo{SpaceID: id, Parts: map[nebula.PartitionID]*nebula.LogInfo{}, DataPath: []byte(cp.Dir)}
		for _, p := range cp.Parts {
			// As NebulaGraph's storaged: a replicated part is listed by
			// its leader only, so that metad backs each part up once;
			// and only by a leader whose cut holds every committed write.
			if r := h.s.raft.Replica(int32(id), p.Part); r != nil && !r.HoldsCommitted(p.LogID, p.Term) {
				continue
			}
			info.Parts[nebula.PartitionID(p.Part)] = &nebula.LogInfo{
				LogID: nebula.LogID(p.LogID), TermID: nebula.TermID(p.Term), CommitLogID: nebula.LogID(p.LogID),
				CheckpointPath: []byte(cp.Dir),
			}
		}
		resp.Info = append(resp.Info, info)
	}
	return resp, nil
}

func (h adminHandler) DropCheckpoint(ctx context.Context, req *storage.DropCPRequest) (*storage.DropCPResp, error) {
	resp := &storage.DropCPResp{Code: nebula.ErrorCode_SUCCEEDED}
	name := string(req.Name)
	if !validName(name) {
		resp.Code = nebula.ErrorCode_E_INVALID_PARM
		return resp, nil
	}
	for _, id := range req.SpaceIds {
		if err := h.s.store.DropCheckpoint(int32(id), name); err != nil {
			h.s.log.Error("drop checkpoint failed", "space", id, "name", name, "err", err)
			resp.Code = nebula.ErrorCode_E_FAILED_TO_CHECKPOINT
		}
	}
	return resp, nil
}

func (h adminHandler) BlockingWrites(ctx context.Context, req *storage.BlockingSignRequest) (*storage.BlockingSignResp, error) {
	resp := &storage.BlockingSignResp{Code: nebula.ErrorCode_SUCCEEDED}
	for _, id := range req.SpaceIds {
		sp := h.s.store.Space(int32(id))
		if sp == nil {
			continue // nothing on this host to hold
		}
		switch {
		case req.Sign == storage.EngineSignType_BLOCK_ON && req.GetPrepareOnly():
			// metad's first round, every host side by side: flush while
			// writes still flow, so that the cut's own flush is small.
			if err := sp.Flush(); err != nil {
				h.s.log.Warn("flush before a cut", "space", id, "err", err)
			}
		case req.Sign == storage.EngineSignType_BLOCK_ON:
			// Without that round (a client other than our metad), or if much
			// was written since, flush first here. Below prepareFlushBytes a
			// flush costs its fsyncs whether here or under the block, and
			// here it would only keep the host from blocking while others
			// are blocked already. A cut of the WAL only flushes nothing.
			if !req.GetWalOnly() && sp.MemtableBytes() > prepareFlushBytes {
				if err := sp.Flush(); err != nil {
					h.s.log.Warn("flush before blocking writes", "space", id, "err", err)
				}
			}
			sp.Block()
		case req.Sign == storage.EngineSignType_BLOCK_OFF:
			sp.Unblock()
		default:
			resp.Code = nebula.ErrorCode_E_INVALID_PARM
		}
	}
	h.s.log.Info("blocking writes", "spaces", req.SpaceIds, "sign", req.Sign, "prepare_only", req.GetPrepareOnly())
	return resp, nil
}

// prepareFlushBytes is the memtable size above which BLOCK_ON flushes
// before blocking.
const prepareFlushBytes = 4 << 20

// validName keeps checkpoint names from escaping the checkpoints directory.
func validName(name string) bool {
	if name == "" || name == "." || name == ".." || len(name) > 128 {
		return false
	}
	for _, c := range name {
		if !(c == '_' || c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// dataHandler serves LiteStorageService: graphd's reads and writes.
type dataHandler struct{ s *Server }

var _ storage.LiteStorageService = dataHandler{}

func common(start time.Time, failed []*storage.PartitionResult_) *storage.ResponseCommon {
	if failed == nil {
		failed = []*storage.PartitionResult_{}
	}
	return &storage.ResponseCommon{FailedParts: failed, LatencyInUs: time.Since(start).Microseconds()}
}

func partFailure(part int32, err error) *storage.PartitionResult_ {
	code := nebula.ErrorCode_E_STORE_FAILURE
	var leader *nebula.HostAddr
	var notLeader *raftpart.NotLeaderError
	switch {
	case errors.Is(err, kv.ErrPartNotFound), errors.Is(err, kv.ErrSpaceNotFound):
		code = nebula.ErrorCode_E_PART_NOT_FOUND
	case errors.As(err, &notLeader), errors.Is(err, raftpart.ErrStopped), errors.Is(err, context.DeadlineExceeded):
		// The client asks the leader (or, with no hint, another replica).
		code = nebula.ErrorCode_E_LEADER_CHANGED
		if notLeader != nil {
			if host, port, err := net.SplitHostPort(notLeader.Leader); err == nil {
				p, _ := strconv.Atoi(port)
				leader = &nebula.HostAddr{Host: host, Port: nebula.Port(p)}
			}
		}
	}
	return &storage.PartitionResult_{Code: code, PartID: nebula.PartitionID(part), Leader: leader}
}

// replicaWriteTimeout bounds how long a write waits to be committed before
// the client is told to look for the leader again.
const replicaWriteTimeout = 5 * time.Second

// write applies a batch: through raft for a replicated part.
func (s *Server) write(ctx context.Context, p *kv.Part, b kv.Batch) error {
	if r := s.raft.Replica(p.SpaceID(), p.ID()); r != nil {
		ctx, cancel := context.WithTimeout(ctx, replicaWriteTimeout)
		defer cancel()
		return r.Write(ctx, b)
	}
	_, err := p.Write(b)
	return err
}

// readable says whether a part's data may be read here: a replicated
// part is read at its leader only.
func (s *Server) readable(p *kv.Part) error {
	if r := s.raft.Replica(p.SpaceID(), p.ID()); r != nil {
		return r.CheckRead()
	}
	return nil
}

func (h dataHandler) Write(ctx context.Context, req *storage.LiteWriteRequest) (*storage.ExecResponse, error) {
	start := time.Now()
	var failed []*storage.PartitionResult_
	for partID, b := range req.Parts {
		p, err := h.s.part(ctx, int32(req.SpaceID), int32(partID))
		if err == nil {
			batch := kv.Batch{Removes: b.Removes}
			for _, kvp := range b.Puts {
				batch.Puts = append(batch.Puts, kv.KeyValue{Key: kvp.Key, Value: kvp.Value})
			}
			err = h.s.write(ctx, p, batch)
		}
		if err != nil {
			if !errors.As(err, new(*raftpart.NotLeaderError)) {
				h.s.log.Warn("write failed", "space", req.SpaceID, "part", partID, "err", err)
			}
			failed = append(failed, partFailure(int32(partID), err))
		}
	}
	return &storage.ExecResponse{Result_: common(start, failed)}, nil
}

func (h dataHandler) Get(ctx context.Context, req *storage.KVGetRequest) (*storage.KVGetResponse, error) {
	start := time.Now()
	var failed []*storage.PartitionResult_
	out := map[string][]byte{}
	for partID, keys := range req.Parts {
		p, err := h.s.part(ctx, int32(req.SpaceID), int32(partID))
		if err == nil {
			err = h.s.readable(p)
		}
		for _, k := range keys {
			if err != nil {
				break
			}
			var v []byte
			var ok bool
			if v, ok, err = p.Get(k); ok {
				out[string(k)] = v
			}
		}
		if err != nil {
			failed = append(failed, partFailure(int32(partID), err))
		}
	}
	return &storage.KVGetResponse{Result_: common(start, failed), KeyValues: out}, nil
}

func (h dataHandler) Scan(ctx context.Context, req *storage.LiteScanRequest) (*storage.LiteScanResponse, error) {
	start := time.Now()
	resp := &storage.LiteScanResponse{Kvs: []*nebula.KeyValue{}}
	p, err := h.s.part(ctx, int32(req.SpaceID), int32(req.PartID))
	if err == nil {
		err = h.s.readable(p)
	}
	if err == nil {
		resp.HasNext, err = p.Scan(req.Prefix, req.StartAfter, int(req.Limit), func(k, v []byte) error {
			resp.Kvs = append(resp.Kvs, &nebula.KeyValue{Key: append([]byte(nil), k...), Value: append([]byte(nil), v...)})
			return nil
		})
	}
	var failed []*storage.PartitionResult_
	if err != nil {
		failed = append(failed, partFailure(int32(req.PartID), err))
		resp.Kvs = nil
	}
	resp.Result_ = common(start, failed)
	return resp, nil
}

// TransLeader hands a part's leadership to another replica and waits (a
// few seconds at most) until it has taken over.
func (h adminHandler) TransLeader(ctx context.Context, req *storage.TransLeaderReq) (*storage.AdminExecResp, error) {
	start := time.Now()
	fail := func(err error) (*storage.AdminExecResp, error) {
		return &storage.AdminExecResp{Result_: common(start, []*storage.PartitionResult_{partFailure(int32(req.PartID), err)})}, nil
	}
	r := h.s.raft.Replica(int32(req.SpaceID), int32(req.PartID))
	if r == nil || req.NewLeader_ == nil {
		return fail(kv.ErrPartNotFound)
	}
	target := net.JoinHostPort(req.NewLeader_.Host, strconv.Itoa(int(req.NewLeader_.Port)))
	if r.Leader() == target {
		return &storage.AdminExecResp{Result_: common(start, nil)}, nil
	}
	if !r.IsLeader() {
		return fail(&raftpart.NotLeaderError{Leader: r.Leader()})
	}
	r.TransferLeader(target)
	deadline := time.Now().Add(5 * time.Second)
	for r.Leader() != target {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fail(&raftpart.NotLeaderError{Leader: r.Leader()})
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.s.log.Info("leader transferred", "space", req.SpaceID, "part", req.PartID, "to", target)
	return &storage.AdminExecResp{Result_: common(start, nil)}, nil
}
