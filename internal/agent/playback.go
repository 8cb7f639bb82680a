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

	"github.com/nebula-open/nebula-br/internal/agent/engine"
	"github.com/nebula-open/nebula-br/internal/agent/pb"
)

// DataPlayBack has the engine replay every part's WAL under data_path
// past its applied log id (storaged must not be running on it) and reports
// the parts' applied ids where the engine tells them.
func (s *Server) DataPlayBack(ctx context.Context, req *pb.DataPlayBackRequest) (*pb.DataPlayBackResponse, error) {
	parts, err := s.playBack(ctx, req.Root, req.DataPath, req.MetaAddr)
	if err != nil {
		return nil, err
	}
	return &pb.DataPlayBackResponse{Parts: parts}, nil
}

// playBack is DataPlayBack's work (RestoreData's last phase too). An empty
// root is the one metad reported for storaged, an empty metaAddr the
// agent's --meta. Errors are status errors naming dataPath.
func (s *Server) playBack(ctx context.Context, root, dataPath, metaAddr string) ([]*pb.PartApplied, error) {
	dataPath, err := absPath("data_path", dataPath)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(dataPath); err != nil {
		return nil, status.Errorf(codeOf(err), "data_path: %v", err)
	} else if !st.IsDir() {
		return nil, status.Errorf(codes.InvalidArgument, "data_path %s is not a directory", dataPath)
	}
	if metaAddr == "" {
		metaAddr = s.cfg.MetaAddr
	}
	if root == "" {
		if _, root, err = s.serviceTarget("play back", pb.ServiceRole_STORAGED, ""); err != nil {
			if _, lite := s.engine.(engine.NebulaLite); !lite { // nebula-lite needs no root to play back
				return nil, err
			}
		}
	}
	applied, err := s.engine.Playback(ctx, root, dataPath, metaAddr)
	if err != nil {
		return nil, s.onHost(err)
	}
	parts := make([]*pb.PartApplied, 0, len(applied))
	for _, p := range applied {
		parts = append(parts, &pb.PartApplied{SpaceId: p.SpaceID, PartId: p.PartID, AppliedLogId: p.AppliedLogID})
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
