package agent

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nebula-open/nebula-br/internal/agent/pb"
	"github.com/nebula-open/nebula-br/internal/lite/kv"
)

// DataPlayBack opens storaged's engine on data_path, which replays every
// part's WAL past its applied log id, and closes it (flushing), then
// reports each part's applied id. storaged must not be running on it.
func (s *Server) DataPlayBack(ctx context.Context, req *pb.DataPlayBackRequest) (*pb.DataPlayBackResponse, error) {
	parts, err := s.playBack(req.DataPath)
	if err != nil {
		return nil, err
	}
	return &pb.DataPlayBackResponse{Parts: parts}, nil
}

// playBack is DataPlayBack's work (RestoreData's last phase too): it opens
// the engine on dataPath, which replays the WAL, closes it and reports the
// parts' applied ids. Errors are status errors naming dataPath.
func (s *Server) playBack(dataPath string) ([]*pb.PartApplied, error) {
	dataPath, err := absPath("data_path", dataPath)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(dataPath); err != nil {
		return nil, status.Errorf(codeOf(err), "data_path: %v", err)
	} else if !st.IsDir() {
		return nil, status.Errorf(codes.InvalidArgument, "data_path %s is not a directory", dataPath)
	}
	store, err := kv.Open(kv.Options{DataPath: dataPath})
	if err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "play back %s on %s (is storaged still running on it?): %v", dataPath, s.cfg.Addr, err)
	}
	var parts []*pb.PartApplied
	for _, spaceID := range store.Spaces() {
		sp := store.Space(spaceID)
		if sp == nil {
			continue
		}
		for _, partID := range sp.Parts() {
			if p := sp.Part(partID); p != nil {
				parts = append(parts, &pb.PartApplied{SpaceId: spaceID, PartId: partID, AppliedLogId: int64(p.Applied())})
			}
		}
	}
	if err := store.Close(); err != nil {
		return nil, status.Errorf(codes.Internal, "play back %s on %s: close: %v", dataPath, s.cfg.Addr, err)
	}
	return parts, nil
}

// GetSpaceUsages reports the bytes under data_path/nebula/<spaceId> for
// every space directory there.
func (s *Server) GetSpaceUsages(ctx context.Context, req *pb.GetSpaceUsagesRequest) (*pb.GetSpaceUsagesResponse, error) {
	dataPath, err := absPath("data_path", req.DataPath)
	if err != nil {
		return nil, err
	}
	root := filepath.Join(dataPath, "nebula")
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, status.Errorf(codeOf(err), "space usages: %v", err)
	}
	resp := &pb.GetSpaceUsagesResponse{}
	for _, e := range entries {
		id, err := strconv.ParseInt(e.Name(), 10, 32)
		if err != nil || id < 0 || !e.IsDir() {
			continue
		}
		n, err := du(filepath.Join(root, e.Name()))
		if err != nil {
			return nil, status.Errorf(codeOf(err), "space %d usage: %v", id, err)
		}
		resp.Spaces = append(resp.Spaces, &pb.SpaceUsage{SpaceId: int32(id), Bytes: n})
	}
	sort.Slice(resp.Spaces, func(i, j int) bool { return resp.Spaces[i].SpaceId < resp.Spaces[j].SpaceId })
	return resp, nil
}

// du sums the sizes of the regular files under dir. Files that vanish
// while it walks (WAL cleanup) are skipped.
func du(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		n += info.Size()
		return nil
	})
	return n, err
}
