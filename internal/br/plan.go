package br

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"sort"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agentclient "github.com/nebula-open/nebula-br/internal/agent/client"
	"github.com/nebula-open/nebula-br/internal/agent/pb"
	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

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
	st, err := openStorage(ctx, storage, false)
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
	p.Hosts = storageHosts(target.Meta)
	sortHosts(p.Hosts)
	if err := p.checkHosts(); err != nil {
		return nil, err
	}
	return p, nil
}

// storageHosts are the backed-up storage hosts: as .meta lists them, or,
// if it does not (upstream's metad need not), the hosts of its spaces.
func storageHosts(bm *meta.BackupMeta) []*nebula.HostAddr {
	if len(bm.StorageHosts) > 0 {
		return append([]*nebula.HostAddr(nil), bm.StorageHosts...)
	}
	var out []*nebula.HostAddr
	seen := map[string]bool{}
	for _, id := range sortedSpaceIDs(bm.SpaceBackups) {
		for _, hb := range bm.SpaceBackups[id].HostBackups {
			if !seen[addr(hb.Host)] {
				seen[addr(hb.Host)] = true
				out = append(out, hb.Host)
			}
		}
	}
	return out
}

// Pair maps each backed-up storage host to a target host, by position in
// address order (the target needs as many storage hosts), in restoreMeta's
// terms.
func (p *RestorePlan) Pair(target []*nebula.HostAddr) ([]*meta.HostPair, error) {
	if len(target) != len(p.Hosts) {
		return nil, markf(ErrTopology, "backup %s was taken from a cluster with %d storage hosts; the target has %d: restore into a cluster with %d storage hosts",
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

// download is the download of link l's objects under prefix into dir,
// each object checked against its size and, if the layout records it, its
// CRC-32C.
func (p *RestorePlan) download(l *link, prefix, dir string, concurrency int32) *pb.DownloadFileRequest {
	return &pb.DownloadFileRequest{Backend: p.storage.backend(), Prefix: prefix, TargetPath: dir,
		Files: toPB(l.under(prefix)), NoChecksums: !l.Layout.Checksums(), Concurrency: concurrency}
}

// metaDownload is the download of metad's export into dir, and the files
// restoreMeta then reads from there (by basename: upstream's .meta keeps
// only those, ours the paths on the backed-up metad).
func (p *RestorePlan) metaDownload(dir string, concurrency int32) (*pb.DownloadFileRequest, []string) {
	target := p.chain[len(p.chain)-1]
	req := p.download(target, metaDirKey(p.Name), dir, concurrency)
	var files []string
	for _, f := range p.Meta.MetaFiles {
		files = append(files, filepath.Join(dir, filepath.Base(string(f))))
	}
	return req, files
}

// dataDownloads are the downloads that give a target storage host, whose
// data path is dataPath, the data of backed-up host source: for every
// space, the checkpoint from the link that holds the space in full, then
// the WAL of every later link of the chain, into the space's directory
// <dataPath>/nebula/<spaceId>/{data,wal/<partId>}. The checkpoint of an
// upstream backup restored by itself comes whole, its own WAL included,
// as upstream's restore places it; as the base of later links, its data
// only, like ours.
func (p *RestorePlan) dataDownloads(source *nebula.HostAddr, dataPath string, concurrency int32) []*pb.DownloadFileRequest {
	target := p.chain[len(p.chain)-1]
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
			if l.Layout == LayoutUpstream && first == len(p.chain)-1 {
				out = append(out, p.download(l, l.Layout.spaceDirKey(l.Name, spaceID, hb.Host, 0), spaceDir, concurrency))
			} else {
				out = append(out, p.download(l, l.Layout.dataKey(l.Name, spaceID, hb.Host, 0), filepath.Join(spaceDir, "data"), concurrency))
			}
			for _, later := range p.chain[first+1:] {
				walRoot := path.Join(later.Layout.spaceDirKey(later.Name, spaceID, hb.Host, 0), "wal")
				if sums := later.under(walRoot); len(sums) > 0 {
					out = append(out, p.download(later, walRoot, filepath.Join(spaceDir, "wal"), concurrency))
				}
			}
		}
	}
	return out
}

// jobJournal is where an agent keeps its record of a restore job: inside
// the directory it fills (in Kubernetes, on the pod's volume).
func jobJournal(dir string) string { return filepath.Join(dir, ".br-restore-data") }

// MetaJob is the agent job that downloads metad's export into dir, and
// the files restoreMeta then reads from there. run names this run of the
// restore: job ids must not repeat across restores (an agent remembers
// finished jobs).
func (p *RestorePlan) MetaJob(run, dir string, concurrency int32) (*pb.RestoreDataRequest, []string) {
	req, files := p.metaDownload(dir, concurrency)
	return &pb.RestoreDataRequest{Id: MetaJobID(run), Downloads: []*pb.DownloadFileRequest{req}, JournalPath: jobJournal(dir)}, files
}

// HostJob is the agent job that gives a target storage host, whose data
// path is dataPath, the data of backed-up host source: its downloads,
// then the playback of the chain's WAL.
func (p *RestorePlan) HostJob(run string, source *nebula.HostAddr, dataPath string, concurrency int32) *pb.RestoreDataRequest {
	return &pb.RestoreDataRequest{Id: DataJobID(run), Downloads: p.dataDownloads(source, dataPath, concurrency),
		PlaybackDataPath: dataPath, JournalPath: jobJournal(dataPath)}
}

// MetaJobID and DataJobID are the ids of a run's jobs.
func MetaJobID(run string) string { return run + " meta" }
func DataJobID(run string) string { return run + " data" }

// bytesOf is what a job downloads.
func bytesOf(req *pb.RestoreDataRequest) int64 {
	var n int64
	for _, d := range req.Downloads {
		for _, f := range d.Files {
			n += f.Size
		}
	}
	return n
}

// AdvanceJob starts or resumes req's job on the agent (which keeps it
// going without us) and reports where it stands. A failed job is an error
// of its kind; a transient failure is also restarted (resuming at object
// granularity), so that calling again later may find it done.
func AdvanceJob(ctx context.Context, c *agentclient.Client, req *pb.RestoreDataRequest) (*pb.RestoreDataJob, error) {
	st, err := c.RestoreDataStatus(ctx, req.Id, false)
	if err != nil {
		return nil, mark(agentKind(err), err)
	}
	if st.State == pb.RestoreDataState_RESTORE_DATA_NONE {
		if st, err = c.RestoreData(ctx, req); err != nil {
			return nil, mark(agentKind(err), err)
		}
	}
	if st.State != pb.RestoreDataState_RESTORE_DATA_FAILED {
		return st, nil
	}
	jerr := jobError(c.Addr(), st)
	if Transient(jerr) {
		if _, err := c.RestoreData(ctx, req); err != nil {
			return st, mark(agentKind(err), err)
		}
	}
	return st, jerr
}

func jobError(agent string, st *pb.RestoreDataJob) error {
	err := fmt.Errorf("agent %s: %s: %s", agent, st.Phase, st.Error)
	if st.Phase == "playback" {
		return mark(ErrPlaybackFailed, err)
	}
	return mark(agentKind(status.Error(codes.Code(st.ErrorCode), st.Error)), err)
}

// RestoreMetad runs restoreMeta on metad m with the export in files,
// unless it already holds the backup's spaces (a resumed restore: nothing
// else gives a metad started on an empty directory spaces), then drops
// the spaces a per-space backup does not hold.
func (p *RestorePlan) RestoreMetad(ctx context.Context, m *client.MetaClient, files []string, pairs []*meta.HostPair) error {
	spaces, err := m.ListSpaces(ctx)
	if err != nil {
		return mark(agentKind(err), fmt.Errorf("metad %s: list spaces: %w", m.Addr(), err))
	}
	if len(spaces) == 0 && len(p.Meta.SpaceBackups) > 0 {
		if _, err := m.RestoreMeta(ctx, files, pairs); err != nil {
			return mark(agentKind(err), fmt.Errorf("restoreMeta on %s: %w", m.Addr(), err))
		}
	}
	if err := p.FinishMeta(ctx, m); err != nil {
		return mark(agentKind(err), err)
	}
	return nil
}

// StorageOffline lists the hosts metad m does not report ONLINE.
func StorageOffline(ctx context.Context, m *client.MetaClient, hosts []*nebula.HostAddr) ([]string, error) {
	items, err := m.ListHosts(ctx, meta.ListHostType_STORAGE)
	if err != nil {
		return nil, mark(agentKind(err), fmt.Errorf("metad %s: list hosts: %w", m.Addr(), err))
	}
	online := map[string]bool{}
	for _, h := range items {
		if h.Status == meta.HostStatus_ONLINE {
			online[addr(h.HostAddr)] = true
		}
	}
	var missing []string
	for _, h := range hosts {
		if !online[addr(h)] {
			missing = append(missing, addr(h))
		}
	}
	sort.Strings(missing)
	return missing, nil
}

// checkHosts makes sure every space's data sits on a backed-up storage
// host (a damaged .meta could say otherwise), in one data path.
func (p *RestorePlan) checkHosts() error {
	known := map[string]bool{}
	for _, h := range p.Hosts {
		known[addr(h)] = true
	}
	for id, sb := range p.Meta.SpaceBackups {
		for _, hb := range sb.HostBackups {
			if !known[addr(hb.Host)] {
				return markf(ErrBackupDamaged, "space %d is on %s, which is not among the backup's storage hosts", id, addr(hb.Host))
			}
		}
	}
	// Upstream's layout keeps a checkpoint per data path of a host
	// (data0, data1, ...); a restore fills one data path per host.
	for _, l := range p.chain {
		if l.Layout != LayoutUpstream {
			continue
		}
		for _, id := range sortedSpaceIDs(l.Meta.SpaceBackups) {
			for _, hb := range l.Meta.SpaceBackups[id].HostBackups {
				if n := dataPaths(l.Layout, hb); n > 1 {
					return markf(ErrTopology, "backup %s holds space %d of storage host %s in %d data paths (data0..data%d): restoring storage hosts with more than one data path is not supported",
						l.Name, id, addr(hb.Host), n, n-1)
				}
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
