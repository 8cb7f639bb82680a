package client

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/nebula-open/nebula-br/internal/agent/pb"
	upb "github.com/nebula-open/nebula-br/internal/agent/upstreampb"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

// An agent that offers only nebula-agent's API (upstream's agent, or an
// older one) is driven through it: the same helpers, translated. What that
// API cannot do, the client does itself, slower but as exact:
//   - transfers are unary calls with no progress; the sizes and CRC-32C of
//     what an upload stored are read back from storage by this client, and
//     a download's objects are checked in storage (size and CRC) before the
//     agent fetches them;
//   - a restore job (RestoreData) runs here, as a goroutine issuing the
//     downloads and the playback in order; it ends with this process;
//   - files on the agent's host (ReadFile, WriteFile, StatDisk) cannot be
//     had: those calls fail with codes.Unimplemented (see Upstream).

// upstreamAPI is the upstream clients and the emulated restore jobs.
type upstreamAPI struct {
	agent   upb.AgentServiceClient
	storage upb.StorageServiceClient

	mu   sync.Mutex
	jobs map[string]*upstreamJob
}

type upstreamJob struct {
	state  *pb.RestoreDataJob
	cancel context.CancelFunc
}

// Upstream reports whether the agent offers only nebula-agent's API.
func (c *Client) Upstream() bool { return c.up != nil }

// unsupported is the error of a call upstream's API has no equivalent of.
func (c *Client) unsupported(method string) error {
	return &Error{Addr: c.addr, Method: method, Code: codes.Unimplemented,
		Msg: "the agent offers only nebula-agent's API, which has no " + method + " (run br-agent there for it)"}
}

// upstreamBackend turns a backend and key prefix into upstream's Backend,
// which names the place itself (local path, or bucket and key path).
func upstreamBackend(b *pb.Backend, prefix string) (*upb.Backend, error) {
	u, err := url.Parse(b.GetUri())
	if err != nil {
		return nil, fmt.Errorf("backend %q: %w", b.GetUri(), err)
	}
	switch u.Scheme {
	case "local":
		return &upb.Backend{Storage: &upb.Backend_Local{Local: &upb.Local{Path: path.Join(u.Path, prefix)}}}, nil
	case "s3":
		return &upb.Backend{Storage: &upb.Backend_S3{S3: &upb.S3{
			Endpoint: b.S3Endpoint, Region: b.S3Region, Bucket: u.Host,
			Path:      strings.Trim(path.Join(u.Path, prefix), "/"),
			AccessKey: b.S3AccessKey, SecretKey: b.S3SecretKey,
		}}}, nil
	case "gs":
		if b.GsEndpoint != "" {
			// Dropping it would send the data to Google instead.
			return nil, fmt.Errorf("backend %q: nebula-agent's API names no GCS endpoint, so %s cannot be passed on: "+
				"give the agent (and br) STORAGE_EMULATOR_HOST instead of --gs.endpoint", b.GetUri(), b.GsEndpoint)
		}
		return &upb.Backend{Storage: &upb.Backend_Gs{Gs: &upb.GS{
			Bucket:      u.Host,
			Path:        strings.Trim(path.Join(u.Path, prefix), "/"),
			Credentials: b.GsCredentials,
		}}}, nil
	}
	return nil, fmt.Errorf("backend %q: nebula-agent takes local://, s3:// and gs:// only", b.GetUri())
}

// openStore opens a backend's storage root from this process.
func openStore(ctx context.Context, b *pb.Backend) (objstore.Store, error) {
	cfg := b.StoreConfig()
	cfg.ReadOnly = true
	return objstore.Open(ctx, b.Uri, cfg)
}

// storedSums reads every object under prefix back: its size and CRC-32C,
// keys relative to prefix.
func storedSums(ctx context.Context, b *pb.Backend, prefix string) ([]*pb.FileSum, error) {
	st, err := openStore(ctx, b)
	if err != nil {
		return nil, err
	}
	root := strings.Trim(prefix, "/")
	if root != "" {
		root += "/"
	}
	var infos []objstore.ObjectInfo
	if err := st.List(ctx, root, func(oi objstore.ObjectInfo) error { infos = append(infos, oi); return nil }); err != nil {
		return nil, err
	}
	out := make([]*pb.FileSum, 0, len(infos))
	for _, oi := range infos {
		n, crc, err := objstore.Checksum(ctx, st, oi.Key)
		if err != nil {
			return nil, err
		}
		out = append(out, &pb.FileSum{Key: strings.TrimPrefix(oi.Key, root), Size: n, Crc32C: crc})
	}
	return out, nil
}

// checkStored verifies, in storage, the objects a download is to fetch
// (sizes only where the backup keeps no checksums).
func checkStored(ctx context.Context, req *pb.DownloadFileRequest) error {
	if len(req.Files) == 0 {
		return nil
	}
	st, err := openStore(ctx, req.Backend)
	if err != nil {
		return err
	}
	for _, f := range req.Files {
		key := strings.Trim(req.Prefix, "/") + "/" + f.Key
		n, crc, err := objstore.Checksum(ctx, st, key)
		if err != nil {
			return status.Errorf(codes.NotFound, "object %s: %v", key, err)
		}
		if n != f.Size || (!req.NoChecksums && crc != f.Crc32C) {
			return status.Errorf(codes.DataLoss, "object %s: want %d bytes crc32c %08x, storage holds %d bytes crc32c %08x", key, f.Size, f.Crc32C, n, crc)
		}
	}
	return nil
}

func done(files []*pb.FileSum) *pb.Progress {
	p := &pb.Progress{Done: true, Files: files, FilesDone: int32(len(files)), FilesTotal: int32(len(files))}
	for _, f := range files {
		p.BytesDone += f.Size
	}
	p.BytesTotal = p.BytesDone
	return p
}

func (c *Client) upstreamUpload(ctx context.Context, req *pb.UploadFileRequest, onProgress func(*pb.Progress)) ([]*pb.FileSum, error) {
	if req.ExportParts {
		return nil, c.unsupported("export per part")
	}
	target, err := upstreamBackend(req.Backend, req.Prefix)
	if err != nil {
		return nil, c.Err("UploadFile", status.Error(codes.InvalidArgument, err.Error()))
	}
	if _, err := c.up.storage.UploadFile(ctx, &upb.UploadFileRequest{Recursively: true, SourcePath: req.SourcePath, TargetBackend: target}); err != nil {
		return nil, c.Err("UploadFile", err)
	}
	files, err := storedSums(ctx, req.Backend, req.Prefix)
	if err != nil {
		return nil, c.Err("UploadFile", fmt.Errorf("read back what was uploaded: %w", err))
	}
	if onProgress != nil {
		onProgress(done(files))
	}
	return files, nil
}

func (c *Client) upstreamIncrUpload(ctx context.Context, req *pb.IncrUploadFileRequest, onProgress func(*pb.Progress)) ([]*pb.FileSum, error) {
	target, err := upstreamBackend(req.Backend, req.Prefix)
	if err != nil {
		return nil, c.Err("IncrUploadFile", status.Error(codes.InvalidArgument, err.Error()))
	}
	_, err = c.up.storage.IncrUploadFile(ctx, &upb.IncrUploadFileRequest{
		SourcePath: req.WalDir, TargetBackend: target, CommitLogId: req.AfterLogId, LastLogId: req.UpToLogId,
	})
	if err != nil {
		return nil, c.Err("IncrUploadFile", err)
	}
	files, err := storedSums(ctx, req.Backend, req.Prefix)
	if err != nil {
		return nil, c.Err("IncrUploadFile", fmt.Errorf("read back what was uploaded: %w", err))
	}
	if onProgress != nil {
		onProgress(done(files))
	}
	return files, nil
}

func (c *Client) upstreamDownload(ctx context.Context, req *pb.DownloadFileRequest) error {
	if err := checkStored(ctx, req); err != nil {
		return c.Err("DownloadFile", err)
	}
	source, err := upstreamBackend(req.Backend, req.Prefix)
	if err != nil {
		return c.Err("DownloadFile", status.Error(codes.InvalidArgument, err.Error()))
	}
	// A trailing slash keeps a prefix from matching its siblings
	// (".../data1" would match ".../data10" in nebula-agent).
	if s3 := source.GetS3(); s3 != nil && s3.Path != "" {
		s3.Path += "/"
	}
	_, err = c.up.storage.DownloadFile(ctx, &upb.DownloadFileRequest{Recursively: true, SourceBackend: source, TargetPath: req.TargetPath})
	return c.Err("DownloadFile", err)
}

// upstreamRestoreData runs a restore job here: its downloads in order,
// then the playback. A job of that id already known is reported instead.
func (c *Client) upstreamRestoreData(req *pb.RestoreDataRequest) *pb.RestoreDataJob {
	c.up.mu.Lock()
	defer c.up.mu.Unlock()
	if j := c.up.jobs[req.Id]; j != nil && j.state.State != pb.RestoreDataState_RESTORE_DATA_FAILED {
		return proto.Clone(j.state).(*pb.RestoreDataJob)
	}
	j := &pb.RestoreDataJob{Id: req.Id, State: pb.RestoreDataState_RESTORE_DATA_RUNNING, Phase: "download"}
	for _, d := range req.Downloads {
		for _, f := range d.Files {
			j.BytesTotal += f.Size
			j.FilesTotal++
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.up.jobs[req.Id] = &upstreamJob{state: j, cancel: cancel}
	go c.runUpstreamJob(ctx, req, j)
	return proto.Clone(j).(*pb.RestoreDataJob)
}

func (c *Client) runUpstreamJob(ctx context.Context, req *pb.RestoreDataRequest, j *pb.RestoreDataJob) {
	update := func(fn func()) {
		c.up.mu.Lock()
		defer c.up.mu.Unlock()
		fn()
	}
	fail := func(err error) {
		update(func() {
			if j.State == pb.RestoreDataState_RESTORE_DATA_RUNNING { // else cancelled already
				j.State, j.Error, j.ErrorCode = pb.RestoreDataState_RESTORE_DATA_FAILED, err.Error(), int32(status.Code(err))
			}
		})
	}
	for _, d := range req.Downloads {
		if err := c.upstreamDownload(ctx, d); err != nil {
			fail(err)
			return
		}
		update(func() {
			for _, f := range d.Files {
				j.BytesDone += f.Size
				j.BytesFetched += f.Size
				j.FilesDone++
			}
		})
	}
	if req.PlaybackDataPath != "" {
		update(func() { j.Phase = "playback" })
		_, err := c.up.agent.DataPlayBack(ctx, &upb.DataPlayBackRequest{Dir: req.PlaybackRoot, DataPath: req.PlaybackDataPath, MetaAddr: req.PlaybackMetaAddr})
		if err != nil {
			fail(c.Err("DataPlayBack", err))
			return
		}
	}
	update(func() {
		if j.State == pb.RestoreDataState_RESTORE_DATA_RUNNING {
			j.State, j.Phase = pb.RestoreDataState_RESTORE_DATA_DONE, "done"
		}
	})
}

// upstreamRestoreDataStatus reports a job run here; cancel stops it (it
// is then FAILED with "canceled").
func (c *Client) upstreamRestoreDataStatus(id string, cancel bool) *pb.RestoreDataJob {
	c.up.mu.Lock()
	defer c.up.mu.Unlock()
	j := c.up.jobs[id]
	if j == nil {
		return &pb.RestoreDataJob{Id: id, State: pb.RestoreDataState_RESTORE_DATA_NONE}
	}
	if cancel && j.state.State == pb.RestoreDataState_RESTORE_DATA_RUNNING {
		j.cancel()
		j.state.State, j.state.Error, j.state.ErrorCode = pb.RestoreDataState_RESTORE_DATA_FAILED, "canceled", int32(codes.Canceled)
	}
	return proto.Clone(j.state).(*pb.RestoreDataJob)
}
