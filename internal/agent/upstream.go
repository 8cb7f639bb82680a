package agent

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nebula-open/nebula-br/internal/agent/pb"
	upb "github.com/nebula-open/nebula-br/internal/agent/upstreampb"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

// nebula-agent's API (package proto), served beside ours so that upstream's
// br, and anything else written for nebula-agent, works with br-agent
// unchanged. Each call does what nebula-agent's does, on the same core as
// our API: the same transfers (parallel, retried, rate-limited), the same
// engine adapter for services and playback. What upstream's API cannot
// carry (progress, checksums) is simply not reported.

// upstreamAgent serves proto.AgentService.
type upstreamAgent struct {
	upb.UnimplementedAgentServiceServer
	s *Server
}

// upstreamStorage serves proto.StorageService.
type upstreamStorage struct {
	upb.UnimplementedStorageServiceServer
	s *Server
}

var upstreamRoles = map[upb.ServiceRole]pb.ServiceRole{
	upb.ServiceRole_META:    pb.ServiceRole_METAD,
	upb.ServiceRole_GRAPH:   pb.ServiceRole_GRAPHD,
	upb.ServiceRole_STORAGE: pb.ServiceRole_STORAGED,
}

func upstreamRole(r upb.ServiceRole) (pb.ServiceRole, error) {
	if role, ok := upstreamRoles[r]; ok {
		return role, nil
	}
	return 0, status.Errorf(codes.InvalidArgument, "role %v: use META, GRAPH or STORAGE", r)
}

func (a *upstreamAgent) StartService(ctx context.Context, req *upb.StartServiceRequest) (*upb.StartServiceResponse, error) {
	role, err := upstreamRole(req.Role)
	if err != nil {
		return nil, err
	}
	if _, err := a.s.StartService(ctx, &pb.ServiceRequest{Role: role, Root: req.Dir}); err != nil {
		return nil, err
	}
	return &upb.StartServiceResponse{}, nil
}

func (a *upstreamAgent) StopService(ctx context.Context, req *upb.StopServiceRequest) (*upb.StopServiceResponse, error) {
	role, err := upstreamRole(req.Role)
	if err != nil {
		return nil, err
	}
	if _, err := a.s.StopService(ctx, &pb.ServiceRequest{Role: role, Root: req.Dir}); err != nil {
		return nil, err
	}
	return &upb.StopServiceResponse{}, nil
}

func (a *upstreamAgent) ServiceStatus(ctx context.Context, req *upb.ServiceStatusRequest) (*upb.ServiceStatusResponse, error) {
	role, err := upstreamRole(req.Role)
	if err != nil {
		return nil, err
	}
	st, err := a.s.ServiceStatus(ctx, &pb.ServiceRequest{Role: role, Root: req.Dir})
	if err != nil {
		return nil, err
	}
	if st.Running {
		return &upb.ServiceStatusResponse{Status: upb.Status_RUNNING}, nil
	}
	return &upb.ServiceStatusResponse{Status: upb.Status_EXITED}, nil
}

// BanReadWrite and AllowReadWrite do nothing in nebula-agent v3 (they
// answer success); here they say so instead of pretending.
func (a *upstreamAgent) BanReadWrite(ctx context.Context, req *upb.BanReadWriteRequest) (*upb.BanReadWriteResponse, error) {
	return nil, status.Error(codes.Unimplemented, "BanReadWrite: not implemented (nebula-agent's does nothing either); br fences writes through metad's backup snapshot")
}

func (a *upstreamAgent) AllowReadWrite(ctx context.Context, req *upb.AllowReadWriteRequest) (*upb.AllowReadWriteResponse, error) {
	return nil, status.Error(codes.Unimplemented, "AllowReadWrite: not implemented (nebula-agent's does nothing either)")
}

func (a *upstreamAgent) DataPlayBack(ctx context.Context, req *upb.DataPlayBackRequest) (*upb.DataPlayBackResponse, error) {
	if _, err := a.s.playBack(ctx, req.Dir, req.DataPath, req.MetaAddr); err != nil {
		return nil, err
	}
	return &upb.DataPlayBackResponse{}, nil
}

func (a *upstreamAgent) StopAgent(ctx context.Context, _ *upb.StopAgentRequest) (*upb.StopAgentResponse, error) {
	if _, err := a.s.StopAgent(ctx, &pb.Empty{}); err != nil {
		return nil, err
	}
	return &upb.StopAgentResponse{}, nil
}

// HealthCheck answers as nebula-agent does.
func (a *upstreamAgent) HealthCheck(ctx context.Context, _ *upb.HealthCheckRequest) (*upb.HealthCheckResponse, error) {
	return &upb.HealthCheckResponse{Status: "healthy"}, nil
}

func (a *upstreamAgent) GetSpaceUsages(ctx context.Context, req *upb.GetSpaceUsagesRequest) (*upb.GetSpaceUsagesResponse, error) {
	resp, err := a.s.GetSpaceUsages(ctx, &pb.GetSpaceUsagesRequest{DataPath: req.DataPath})
	if err != nil {
		return nil, err
	}
	out := &upb.GetSpaceUsagesResponse{}
	for _, sp := range resp.Spaces {
		out.SpaceUsages = append(out.SpaceUsages, &upb.GetSpaceUsagesResponse_SpaceUsageItem{Id: int64(sp.SpaceId), Usage: sp.Bytes})
	}
	return out, nil
}

// openUpstream opens the store an upstream Backend lives in and returns
// the key (one object) or key prefix (recursive) it names, and the secrets
// it carries. Local{path}: the directory (recursive) or file at path.
// S3{bucket, path} and GS{bucket, path, credentials}: the bucket, path the
// key.
func (s *Server) openUpstream(ctx context.Context, b *upb.Backend, recursive bool) (objstore.Store, string, []string, error) {
	var (
		uri, key string
		cfg      objstore.Config
		sec      []string
	)
	switch {
	case b.GetLocal() != nil:
		p := b.GetLocal().Path
		if !filepath.IsAbs(p) {
			return nil, "", nil, status.Errorf(codes.InvalidArgument, "local backend path %q is not absolute", p)
		}
		p = filepath.Clean(p)
		if recursive {
			uri = "local://" + p
		} else {
			uri, key = "local://"+filepath.Dir(p), filepath.Base(p)
		}
	case b.GetS3() != nil:
		s3 := b.GetS3()
		if s3.Bucket == "" {
			return nil, "", nil, status.Error(codes.InvalidArgument, "s3 backend without a bucket")
		}
		uri, key = "s3://"+s3.Bucket, strings.Trim(s3.Path, "/")
		cfg.S3 = objstore.S3Config{AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, Region: s3.Region, Endpoint: s3.Endpoint}
		for _, v := range []string{s3.AccessKey, s3.SecretKey} {
			if v != "" {
				sec = append(sec, v)
			}
		}
	case b.GetGs() != nil:
		// nebula-agent's GS names no endpoint: Google's, or the
		// emulator of this agent's STORAGE_EMULATOR_HOST.
		gs := b.GetGs()
		sec = GSSecrets(gs.Credentials)
		if gs.Bucket == "" {
			return nil, "", sec, status.Error(codes.InvalidArgument, "gs backend without a bucket")
		}
		uri, key = "gs://"+gs.Bucket, strings.Trim(gs.Path, "/")
		cfg.GS = objstore.GSConfig{Credentials: gs.Credentials}
	default:
		return nil, "", nil, status.Error(codes.InvalidArgument, "backend names no storage (local, s3 or gs)")
	}
	if !recursive && key == "" {
		return nil, "", sec, status.Errorf(codes.InvalidArgument, "backend %s names no object", uri)
	}
	st, err := s.cfg.Open(ctx, uri, cfg)
	if err != nil {
		code := codeOf(err)
		if code == codes.Internal {
			code = codes.FailedPrecondition
		}
		return nil, "", sec, status.Errorf(code, "open storage %s: %s", uri, scrub(err.Error(), sec))
	}
	return st, key, sec, nil
}

// discard is a progress stream nobody reads: upstream's calls are unary.
type discard struct{}

func (discard) Send(*pb.Progress) error { return nil }

// UploadFile uploads source_path: a directory recursively (keys relative
// to it under the backend's path), or one file to the backend's path.
func (u *upstreamStorage) UploadFile(ctx context.Context, req *upb.UploadFileRequest) (*upb.UploadFileResponse, error) {
	src, err := absPath("source_path", req.SourcePath)
	if err != nil {
		return nil, err
	}
	jobs, err := collect(src)
	if err != nil {
		return nil, err
	}
	store, key, sec, err := u.s.openUpstream(ctx, req.TargetBackend, req.Recursively)
	if err != nil {
		return nil, err
	}
	prefix := key
	if !req.Recursively {
		if len(jobs) != 1 || jobs[0].path != src {
			return nil, status.Errorf(codes.InvalidArgument, "source_path %s is a directory: set recursively", src)
		}
		prefix, jobs[0].key = path.Dir(key), path.Base(key)
		if prefix == "." {
			prefix = ""
		}
	}
	t := u.s.newTransfer(store, prefix, sec, 0)
	if err := t.run(ctx, jobs, discard{}, t.put); err != nil {
		return nil, err
	}
	return &upb.UploadFileResponse{}, nil
}

// IncrUploadFile uploads the WAL files of one part's directory holding the
// entries after commit_log_id (and its commitlog.id, if any), by name under
// the backend's path, as nebula-agent does.
func (u *upstreamStorage) IncrUploadFile(ctx context.Context, req *upb.IncrUploadFileRequest) (*upb.IncrUploadFileResponse, error) {
	dir, err := absPath("source_path", req.SourcePath)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, status.Errorf(codeOf(err), "source_path: %v", err)
	} else if !st.IsDir() {
		return nil, status.Errorf(codes.InvalidArgument, "source_path %s is a file: give the part's WAL directory", dir)
	}
	files, err := walCovering(dir, req.CommitLogId, 0)
	if err != nil {
		var exp *expiredError
		if errors.As(err, &exp) {
			return nil, status.Errorf(codes.FailedPrecondition, "%s: WAL entries after log id %d have expired on %s (oldest kept file starts at %d; see --wal_ttl): take a new full backup",
				dir, req.CommitLogId, u.s.cfg.Addr, exp.oldest)
		}
		return nil, status.Errorf(codeOf(err), "list WAL files in %s: %v", dir, err)
	}
	jobs := make([]job, 0, len(files)+1)
	for _, f := range files {
		jobs = append(jobs, job{key: filepath.Base(f.path), path: f.path, size: f.size})
	}
	if info, err := os.Stat(filepath.Join(dir, commitLogFile)); err == nil {
		jobs = append(jobs, job{key: commitLogFile, path: filepath.Join(dir, commitLogFile), size: info.Size()})
	}
	store, key, sec, err := u.s.openUpstream(ctx, req.TargetBackend, true)
	if err != nil {
		return nil, err
	}
	t := u.s.newTransfer(store, key, sec, 0)
	if err := t.run(ctx, jobs, discard{}, t.put); err != nil {
		return nil, err
	}
	return &upb.IncrUploadFileResponse{}, nil
}

// DownloadFile downloads every object under the backend's path into
// target_path, same relative paths (recursively), or the one object it
// names to the file target_path. Sizes are checked; upstream's API carries
// no checksums.
func (u *upstreamStorage) DownloadFile(ctx context.Context, req *upb.DownloadFileRequest) (*upb.DownloadFileResponse, error) {
	target, err := absPath("target_path", req.TargetPath)
	if err != nil {
		return nil, err
	}
	store, key, sec, err := u.s.openUpstream(ctx, req.SourceBackend, req.Recursively)
	if err != nil {
		return nil, err
	}
	var (
		jobs   []job
		prefix = key
	)
	if req.Recursively {
		files, err := listUnder(ctx, store, key)
		if err != nil {
			return nil, toStatus(err, sec)
		}
		for _, f := range files {
			jobs = append(jobs, job{key: f.Key, path: filepath.Join(target, filepath.FromSlash(f.Key)), size: f.Size})
		}
	} else {
		info, err := store.Stat(ctx, key)
		if err != nil {
			return nil, toStatus(err, sec)
		}
		prefix = ""
		jobs = []job{{key: key, path: target, size: info.Size}}
	}
	t := u.s.newTransfer(store, prefix, sec, 0)
	err = t.run(ctx, jobs, discard{}, func(ctx context.Context, j job) (*pb.FileSum, error) {
		return t.get(ctx, j, false)
	})
	if err != nil {
		return nil, err
	}
	return &upb.DownloadFileResponse{}, nil
}

// MoveDir renames src_path to dst_path. A missing source is an error whose
// text says "does not exist", which upstream's br looks for.
func (u *upstreamStorage) MoveDir(ctx context.Context, req *upb.MoveDirRequest) (*upb.MoveDirResponse, error) {
	src, err := absPath("src_path", req.SrcPath)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(src); errors.Is(err, fs.ErrNotExist) {
		return nil, status.Errorf(codes.NotFound, "%s does not exist", src)
	}
	if _, err := u.s.MoveDir(ctx, &pb.MoveDirRequest{Src: req.SrcPath, Dst: req.DstPath}); err != nil {
		return nil, err
	}
	return &upb.MoveDirResponse{}, nil
}

func (u *upstreamStorage) RemoveDir(ctx context.Context, req *upb.RemoveDirRequest) (*upb.RemoveDirResponse, error) {
	if _, err := u.s.RemoveDir(ctx, &pb.RemoveDirRequest{Path: req.Path}); err != nil {
		return nil, err
	}
	return &upb.RemoveDirResponse{}, nil
}

func (u *upstreamStorage) ExistDir(ctx context.Context, req *upb.ExistDirRequest) (*upb.ExistDirResponse, error) {
	resp, err := u.s.ExistDir(ctx, &pb.ExistDirRequest{Path: req.Path})
	if err != nil {
		return nil, err
	}
	return &upb.ExistDirResponse{Exist: resp.Exists}, nil
}
