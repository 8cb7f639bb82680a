package br

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"

	"github.com/nebula-open/nebula-br/internal/agent/pb"
	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

// ErrBackupNotFound is wrapped by PlanRestore when the backup (or a base
// of its chain) has no .meta under the storage root.
var ErrBackupNotFound = errors.New("backup not found")

// RestorePlan is what restoring a backup downloads and where, worked out
// from the stored chain before anything is touched. Local mode (Restore)
// and the operator's NebulaRestore both carry it out through agents.
type RestorePlan struct {
	Name  string             // the backup restored
	Chain []string           // full backup first
	Meta  *meta.BackupMeta   // the restored backup's meta
	Hosts []*nebula.HostAddr // the backed-up storage hosts, in pairing order

	storage Storage
	chain   []*link
}

// PlanRestore loads the chain of backup name (following its bases down to
// the full backup) and checks that every object is present.
func PlanRestore(ctx context.Context, storage Storage, name string) (*RestorePlan, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	st, err := openStorage(ctx, storage)
	if err != nil {
		return nil, err
	}
	return planFrom(ctx, st, storage, name)
}

func planFrom(ctx context.Context, st objstore.Store, storage Storage, name string) (p *RestorePlan, err error) {
	var chain []*link
	chain, err = loadChain(ctx, st, name)
	if err != nil {
		return nil, err
	}
	if err := checkPresent(ctx, st, chain); err != nil {
		return nil, err
	}
	target := chain[len(chain)-1]
	p = &RestorePlan{Name: name, Meta: target.Meta, storage: storage, chain: chain}
	for _, l := range chain {
		p.Chain = append(p.Chain, l.Name)
	}
	p.Hosts = append(p.Hosts, target.Meta.StorageHosts...)
	sortHosts(p.Hosts)
	if err := p.checkHosts(); err != nil {
		return nil, err
	}
	return p, nil
}

// Pair maps each backed-up storage host to a target host, by position in
// address order (the target needs as many storage hosts), in restoreMeta's
// terms.
func (p *RestorePlan) Pair(target []*nebula.HostAddr) ([]*meta.HostPair, error) {
	if len(target) != len(p.Hosts) {
		return nil, fmt.Errorf("backup %s was taken from a cluster with %d storage hosts; the target has %d: restore into a cluster with %d storage hosts",
			p.Name, len(p.Hosts), len(target), len(p.Hosts))
	}
	sorted := append([]*nebula.HostAddr(nil), target...)
	sortHosts(sorted)
	pairs := make([]*meta.HostPair, len(p.Hosts))
	for i, h := range p.Hosts {
		pairs[i] = &meta.HostPair{FromHost: h, ToHost: sorted[i]}
	}
	return pairs, nil
}

// MetaDownload is the download of metad's export into dir, and the files
// restoreMeta then reads from there.
func (p *RestorePlan) MetaDownload(dir string, concurrency int32) (*pb.DownloadFileRequest, []string) {
	target := p.chain[len(p.chain)-1]
	req := &pb.DownloadFileRequest{Backend: p.storage.backend(), Prefix: metaDirKey(p.Name), TargetPath: dir,
		Files: toPB(target.under(metaDirKey(p.Name))), Concurrency: concurrency}
	var files []string
	for _, f := range p.Meta.MetaFiles {
		files = append(files, filepath.Join(dir, filepath.Base(string(f))))
	}
	return req, files
}

// DataDownloads are the downloads that give a target storage host, whose
// data path is dataPath, the data of backed-up host source: for every
// space, the checkpoint from the link that holds the space in full, then
// the WAL of every later link of the chain.
func (p *RestorePlan) DataDownloads(source *nebula.HostAddr, dataPath string, concurrency int32) []*pb.DownloadFileRequest {
	target := p.chain[len(p.chain)-1]
	backend := p.storage.backend()
	var out []*pb.DownloadFileRequest
	for _, spaceID := range sortedSpaceIDs(target.Meta.SpaceBackups) {
		// The link that uploaded the space in full: the full backup, or
		// the incremental in which the space first appears.
		first := 0
		for i := len(p.chain) - 1; i > 0; i-- {
			if p.chain[i-1].Meta.SpaceBackups[spaceID] == nil {
				first = i
				break
			}
		}
		for _, hb := range target.Meta.SpaceBackups[spaceID].HostBackups {
			if addr(hb.Host) != addr(source) {
				continue
			}
			spaceDir := filepath.Join(dataPath, "nebula", fmt.Sprint(spaceID))
			l := p.chain[first]
			prefix := dataKey(l.Name, spaceID, hb.Host)
			out = append(out, &pb.DownloadFileRequest{Backend: backend, Prefix: prefix, TargetPath: filepath.Join(spaceDir, "data"),
				Files: toPB(l.under(prefix)), Concurrency: concurrency})
			for _, later := range p.chain[first+1:] {
				walRoot := path.Join(later.Name, "data", fmt.Sprint(spaceID), hostKey(hb.Host), "wal")
				if sums := later.under(walRoot); len(sums) > 0 {
					out = append(out, &pb.DownloadFileRequest{Backend: backend, Prefix: walRoot, TargetPath: filepath.Join(spaceDir, "wal"),
						Files: toPB(sums), Concurrency: concurrency})
				}
			}
		}
	}
	return out
}

// checkHosts makes sure every space's data sits on a backed-up storage
// host (a damaged .meta could say otherwise).
func (p *RestorePlan) checkHosts() error {
	known := map[string]bool{}
	for _, h := range p.Hosts {
		known[addr(h)] = true
	}
	for id, sb := range p.Meta.SpaceBackups {
		for _, hb := range sb.HostBackups {
			if !known[addr(hb.Host)] {
				return fmt.Errorf("space %d is on %s, which is not among the backup's storage hosts", id, addr(hb.Host))
			}
		}
	}
	return nil
}

// FinishMeta completes metad's restore for a per-space backup: metad's
// export holds every space, the backup only some.
func (p *RestorePlan) FinishMeta(ctx context.Context, m *client.MetaClient) error {
	if p.Meta.AllSpaces {
		return nil
	}
	return dropOtherSpaces(ctx, m, p.Meta)
}
