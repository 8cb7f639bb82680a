package agent

import (
	"errors"
	"path/filepath"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nebula-open/nebula-br/internal/agent/pb"
)

// IncrUploadFile uploads the WAL files of one part that hold the entries
// (after_log_id, up_to_log_id], keyed by file name under prefix. The files
// are a checkpoint's: sealed, uploaded whole.
func (s *Server) IncrUploadFile(req *pb.IncrUploadFileRequest, stream pb.StorageService_IncrUploadFileServer) error {
	ctx := stream.Context()
	dir, err := absPath("wal_dir", req.WalDir)
	if err != nil {
		return err
	}
	if req.AfterLogId < 0 || req.UpToLogId < 0 {
		return status.Errorf(codes.InvalidArgument, "space %d part %d: negative log id (after %d, up to %d)",
			req.SpaceId, req.PartId, req.AfterLogId, req.UpToLogId)
	}
	if req.UpToLogId != 0 && req.UpToLogId < req.AfterLogId {
		return status.Errorf(codes.InvalidArgument, "space %d part %d: up_to_log_id %d is before after_log_id %d",
			req.SpaceId, req.PartId, req.UpToLogId, req.AfterLogId)
	}
	var files []walFile
	if req.UpToLogId == 0 || req.UpToLogId > req.AfterLogId { // else: nothing to upload
		if files, err = walCovering(dir, req.AfterLogId, req.UpToLogId); err != nil {
			return s.walError(req, err)
		}
	}
	jobs := make([]job, 0, len(files))
	for _, f := range files {
		jobs = append(jobs, job{key: filepath.Base(f.path), path: f.path, size: f.size})
	}
	store, sec, err := s.openBackend(ctx, req.Backend)
	if err != nil {
		return err
	}
	t := s.newTransfer(store, req.Prefix, sec, req.Concurrency)
	return t.run(ctx, jobs, stream, t.put)
}

// walError explains why the covering files cannot be had.
func (s *Server) walError(req *pb.IncrUploadFileRequest, err error) error {
	var exp *expiredError
	if errors.As(err, &exp) {
		return status.Errorf(codes.FailedPrecondition,
			"space %d part %d: WAL entries after log id %d have expired on %s (oldest kept file starts at %d; see --wal_ttl): take a new full backup",
			req.SpaceId, req.PartId, req.AfterLogId, s.cfg.Addr, exp.oldest)
	}
	return status.Errorf(codeOf(err), "space %d part %d on %s: list WAL files: %v", req.SpaceId, req.PartId, s.cfg.Addr, err)
}
