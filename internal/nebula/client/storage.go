package client

import (
	"context"
	"errors"

	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/storage"
)

// StorageAdminClient talks to one storaged's StorageAdminService (the
// checkpoint calls metad makes during a backup). Safe for concurrent use.
type StorageAdminClient struct {
	s *session
}

// NewStorageAdminClient connects to the storaged admin port at addr.
func NewStorageAdminClient(addr string, opts Options) (*StorageAdminClient, error) {
	c := &StorageAdminClient{s: newSession("storage", addr, opts, nil)}
	ctx, cancel := context.WithTimeout(context.Background(), c.s.opts.ConnectTimeout)
	defer cancel()
	if err := c.s.connect(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Addr is the storaged admin address.
func (a *StorageAdminClient) Addr() string { return a.s.addr }

// Close closes the connection; later calls fail.
func (a *StorageAdminClient) Close() error { return a.s.close() }

func (a *StorageAdminClient) do(ctx context.Context, method string, fn func(context.Context, *storage.StorageAdminServiceClient) error) error {
	return a.s.call(ctx, method, func(ctx context.Context, c *Conn) error {
		return fn(ctx, storage.NewStorageAdminServiceClient(c))
	})
}

// CutOptions are nebula-lite's additions to a backup's cut: fields 100 and
// 101 of BlockingSignRequest and field 100 of CreateCPRequest, which
// NebulaGraph's storaged skips (it then cuts as for a full backup).
type CutOptions struct {
	// WALOnly: the backup is incremental and takes only the parts' WAL, so
	// storaged neither flushes the memtable before the block nor cuts the
	// data under it.
	WALOnly bool
	// PrepareOnly, with BLOCK_ON: only what BLOCK_ON does before blocking
	// (flush the memtable, fsync the WAL), writes still flowing: the first
	// round of nebula-lite's metad. NebulaGraph's storaged would block.
	PrepareOnly bool
}

// optional is an optional field's value: unset unless asked for.
func optional(b bool) *bool {
	if !b {
		return nil
	}
	return &b
}

// CreateCheckpoint checkpoints the given spaces under name and returns one
// CheckpointInfo per space and data path.
func (a *StorageAdminClient) CreateCheckpoint(ctx context.Context, spaceIDs []nebula.GraphSpaceID, name string) ([]*nebula.CheckpointInfo, error) {
	return a.CreateCheckpointWith(ctx, spaceIDs, name, CutOptions{})
}

// CreateCheckpointWith is CreateCheckpoint with nebula-lite's options.
func (a *StorageAdminClient) CreateCheckpointWith(ctx context.Context, spaceIDs []nebula.GraphSpaceID, name string, o CutOptions) ([]*nebula.CheckpointInfo, error) {
	var resp *storage.CreateCPResp
	err := a.do(ctx, "createCheckpoint", func(ctx context.Context, c *storage.StorageAdminServiceClient) (err error) {
		resp, err = c.CreateCheckpoint(ctx, &storage.CreateCPRequest{SpaceIds: spaceIDs, Name: []byte(name), WalOnly: optional(o.WALOnly)})
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := checkCode("storage", "createCheckpoint", resp.Code, nil, nil); err != nil {
		return nil, err
	}
	return resp.Info, nil
}

// DropCheckpoint removes the named checkpoint of the given spaces.
func (a *StorageAdminClient) DropCheckpoint(ctx context.Context, spaceIDs []nebula.GraphSpaceID, name string) error {
	var resp *storage.DropCPResp
	err := a.do(ctx, "dropCheckpoint", func(ctx context.Context, c *storage.StorageAdminServiceClient) (err error) {
		resp, err = c.DropCheckpoint(ctx, &storage.DropCPRequest{SpaceIds: spaceIDs, Name: []byte(name)})
		return err
	})
	if err != nil {
		return err
	}
	return checkCode("storage", "dropCheckpoint", resp.Code, nil, nil)
}

// BlockingWrites turns write blocking on or off for the given spaces.
func (a *StorageAdminClient) BlockingWrites(ctx context.Context, spaceIDs []nebula.GraphSpaceID, sign storage.EngineSignType) error {
	return a.BlockingWritesWith(ctx, spaceIDs, sign, CutOptions{})
}

// BlockingWritesWith is BlockingWrites with nebula-lite's options.
func (a *StorageAdminClient) BlockingWritesWith(ctx context.Context, spaceIDs []nebula.GraphSpaceID, sign storage.EngineSignType, o CutOptions) error {
	var resp *storage.BlockingSignResp
	err := a.do(ctx, "blockingWrites", func(ctx context.Context, c *storage.StorageAdminServiceClient) (err error) {
		resp, err = c.BlockingWrites(ctx, &storage.BlockingSignRequest{SpaceIds: spaceIDs, Sign: sign,
			WalOnly: optional(o.WALOnly), PrepareOnly: optional(o.PrepareOnly)})
		return err
	})
	if err != nil {
		return err
	}
	return checkCode("storage", "blockingWrites", resp.Code, nil, nil)
}

// LiteStorageClient talks to nebula-lite's LiteStorageService (graphd ->
// storaged key/value calls). Safe for concurrent use.
type LiteStorageClient struct {
	s *session
}

// NewLiteStorageClient connects to the storaged at addr.
func NewLiteStorageClient(addr string, opts Options) (*LiteStorageClient, error) {
	c := &LiteStorageClient{s: newSession("storage", addr, opts, nil)}
	ctx, cancel := context.WithTimeout(context.Background(), c.s.opts.ConnectTimeout)
	defer cancel()
	if err := c.s.connect(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Addr is the storaged address.
func (l *LiteStorageClient) Addr() string { return l.s.addr }

// Close closes the connection; later calls fail.
func (l *LiteStorageClient) Close() error { return l.s.close() }

func (l *LiteStorageClient) do(ctx context.Context, method string, fn func(context.Context, *storage.LiteStorageServiceClient) error) error {
	return l.s.call(ctx, method, func(ctx context.Context, c *Conn) error {
		return fn(ctx, storage.NewLiteStorageServiceClient(c))
	})
}

// Write applies per-part batches. Parts the server reports as failed come
// back as *PartError (joined when several failed); the others were applied.
func (l *LiteStorageClient) Write(ctx context.Context, req *storage.LiteWriteRequest) error {
	var resp *storage.ExecResponse
	err := l.do(ctx, "write", func(ctx context.Context, c *storage.LiteStorageServiceClient) (err error) {
		resp, err = c.Write(ctx, req)
		return err
	})
	if err != nil {
		return err
	}
	return partErrors("write", req.SpaceID, resp.Result_)
}

// Get reads keys. On failed parts it returns the response (holding what
// the other parts returned) together with the *PartError(s).
func (l *LiteStorageClient) Get(ctx context.Context, req *storage.KVGetRequest) (*storage.KVGetResponse, error) {
	var resp *storage.KVGetResponse
	err := l.do(ctx, "get", func(ctx context.Context, c *storage.LiteStorageServiceClient) (err error) {
		resp, err = c.Get(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp, partErrors("get", req.SpaceID, resp.Result_)
}

// Scan reads one page of a partition; a failed part is a *PartError.
func (l *LiteStorageClient) Scan(ctx context.Context, req *storage.LiteScanRequest) (*storage.LiteScanResponse, error) {
	var resp *storage.LiteScanResponse
	err := l.do(ctx, "scan", func(ctx context.Context, c *storage.LiteStorageServiceClient) (err error) {
		resp, err = c.Scan(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp, partErrors("scan", req.SpaceID, resp.Result_)
}

// partErrors turns ResponseCommon.failed_parts into errors.
func partErrors(method string, space nebula.GraphSpaceID, rc *storage.ResponseCommon) error {
	if rc == nil {
		return nil
	}
	var errs []error
	for _, p := range rc.FailedParts {
		if p == nil || p.Code == nebula.ErrorCode_SUCCEEDED {
			continue
		}
		errs = append(errs, &PartError{Method: method, Space: space, Part: p.PartID, Code: p.Code, Leader: p.Leader})
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// TransLeader asks the part's leader to hand leadership to newLeader; a
// failed part comes back as *PartError.
func (a *StorageAdminClient) TransLeader(ctx context.Context, space nebula.GraphSpaceID, part nebula.PartitionID, newLeader *nebula.HostAddr) error {
	var resp *storage.AdminExecResp
	err := a.do(ctx, "transLeader", func(ctx context.Context, c *storage.StorageAdminServiceClient) (err error) {
		resp, err = c.TransLeader(ctx, &storage.TransLeaderReq{SpaceID: space, PartID: part, NewLeader_: newLeader})
		return err
	})
	if err != nil {
		return err
	}
	return partErrors("transLeader", space, resp.Result_)
}
