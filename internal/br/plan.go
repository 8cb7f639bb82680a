package br

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

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

// Assignment is where a restore puts a backup's data on the target: each
// space's parts on the target's storage hosts. A backup kept per part
// (written from nebula-lite) goes to any number of hosts (at least the
// replica factor), its parts spread evenly, every replica of a part
// getting its data; one kept per host only to as many hosts as it was
// taken from, paired in address order (restoreMeta's host pairs).
type Assignment struct {
	Targets   []*nebula.HostAddr // the target's storage hosts, sorted
	Pairs     []*meta.HostPair   // nil when the numbers differ
	Placement map[nebula.GraphSpaceID]map[nebula.PartitionID][]*nebula.HostAddr
}

// Assign works out the assignment into the target's storage hosts.
func (p *RestorePlan) Assign(target []*nebula.HostAddr) (*Assignment, error) {
	a := &Assignment{Targets: append([]*nebula.HostAddr(nil), target...), Placement: map[nebula.GraphSpaceID]map[nebula.PartitionID][]*nebula.HostAddr{}}
	sortHosts(a.Targets)
	for _, id := range sortedSpaceIDs(p.Meta.SpaceBackups) {
		if rf := replicaFactor(p.Meta.SpaceBackups[id]); len(a.Targets) < rf {
			return nil, markf(ErrTopology, "backup %s holds space %s with replica_factor %d; the target has %d storage hosts: restore into at least %d",
				p.Name, p.Meta.SpaceBackups[id].Space.GetSpaceName(), rf, len(a.Targets), rf)
		}
	}
	// A backup kept per part goes anywhere: its parts are spread afresh
	// (a replicated space's backup lists each part on its leader only, so
	// the old placement is not even known). One kept per host needs pairs.
	if len(a.Targets) == len(p.Hosts) && !p.PerPart() {
		to := map[string]*nebula.HostAddr{}
		for i, h := range p.Hosts {
			a.Pairs = append(a.Pairs, &meta.HostPair{FromHost: h, ToHost: a.Targets[i]})
			to[addr(h)] = a.Targets[i]
		}
		for id, sb := range p.Meta.SpaceBackups {
			a.Placement[id] = map[nebula.PartitionID][]*nebula.HostAddr{}
			for _, hb := range sb.HostBackups {
				for _, cp := range hb.Checkpoints {
					for part := range cp.Parts {
						a.Placement[id][part] = append(a.Placement[id][part], to[addr(hb.Host)])
					}
				}
			}
		}
		return a, nil
	}
	if !p.PerPart() {
		return nil, markf(ErrTopology, "backup %s was taken from a cluster with %d storage hosts and keeps each host's data together (NebulaGraph's layout), so it restores only into %d storage hosts; the target has %d",
			p.Name, len(p.Hosts), len(p.Hosts), len(a.Targets))
	}
	// Each part, space by space, goes to the hosts that hold the fewest
	// replicas so far (the first in address order among equals): hosts
	// end up holding as many replicas as one another, give or take one,
	// and a part's replicas are on different hosts.
	held := make([]int, len(a.Targets))
	for _, id := range sortedSpaceIDs(p.Meta.SpaceBackups) {
		sb := p.Meta.SpaceBackups[id]
		a.Placement[id] = map[nebula.PartitionID][]*nebula.HostAddr{}
		for part := nebula.PartitionID(1); part <= nebula.PartitionID(sb.Space.GetPartitionNum()); part++ {
			order := make([]int, len(a.Targets))
			for i := range order {
				order[i] = i
			}
			sort.SliceStable(order, func(x, y int) bool { return held[order[x]] < held[order[y]] })
			for _, h := range order[:replicaFactor(sb)] {
				a.Placement[id][part] = append(a.Placement[id][part], a.Targets[h])
				held[h]++
			}
		}
	}
	return a, nil
}

func replicaFactor(sb *meta.SpaceBackupInfo) int {
	if rf := int(sb.Space.GetReplicaFactor()); rf > 0 {
		return rf
	}
	return 1
}

// source is the backed-up host paired with target (nil without pairs).
func (a *Assignment) source(target *nebula.HostAddr) *nebula.HostAddr {
	for _, p := range a.Pairs {
		if addr(p.ToHost) == addr(target) {
			return p.FromHost
		}
	}
	return nil
}

// partsOn are the parts of space that target holds, in order.
func (a *Assignment) partsOn(space nebula.GraphSpaceID, target *nebula.HostAddr) []nebula.PartitionID {
	var out []nebula.PartitionID
	for _, part := range sortedParts(a.Placement[space]) {
		for _, h := range a.Placement[space][part] {
			if addr(h) == addr(target) {
				out = append(out, part)
			}
		}
	}
	return out
}

// placementInfo is the placement in restoreMeta's terms, given only when
// there are no host pairs (which say the same, and which every metad takes).
func (a *Assignment) placementInfo() map[nebula.GraphSpaceID][]*meta.PartInfo {
	if a.Pairs != nil {
		return nil
	}
	out := map[nebula.GraphSpaceID][]*meta.PartInfo{}
	for id, parts := range a.Placement {
		for _, part := range sortedParts(parts) {
			out[id] = append(out[id], &meta.PartInfo{PartID: part, Hosts: parts[part]})
		}
	}
	return out
}

// PerPart reports whether every space's data is kept per part in the
// backup that holds it in full.
func (p *RestorePlan) PerPart() bool {
	for _, id := range sortedSpaceIDs(p.Meta.SpaceBackups) {
		if !p.chain[p.fullLink(id)].perPart(id) {
			return false
		}
	}
	return true
}

// CanImport says whether the storage host at host, whose agent reports
// engine, can take this backup: a space kept per
// part is assembled by the engine's playback, which only nebula-lite's
// does.
func (p *RestorePlan) CanImport(host, agent, engine string) error {
	for _, id := range sortedSpaceIDs(p.Meta.SpaceBackups) {
		if p.chain[p.fullLink(id)].perPart(id) && engine != EngineNebulaLite {
			return markf(ErrTopology, "backup %s keeps space %d per part (written from nebula-lite), which only nebula-lite's playback assembles; storage host %s is managed by engine %q (agent %s)",
				p.Name, id, host, engine, agent)
		}
	}
	return nil
}

// EngineNebulaLite is the engine name an agent managing nebula-lite
// reports; its checkpoints are exported and restored per part.
const EngineNebulaLite = "nebula-lite"

// fullLink is the index of the link that uploaded space in full: the full
// backup, or the incremental in which the space first appears.
func (p *RestorePlan) fullLink(space nebula.GraphSpaceID) int {
	for i := len(p.chain) - 1; i > 0; i-- {
		if p.chain[i-1].Meta.SpaceBackups[space] == nil {
			return i
		}
	}
	return 0
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

// dataDownloads are the downloads that give target storage host the
// data assignment a puts there, into its data path dataPath: for every
// space, what the link holding the space in full has of it, then the WAL
// of every later link, into the space's directory <dataPath>/nebula/<spaceId>/.
//
// A space kept per part comes as each of the host's parts,
// parts/<partId>/{*.sst,applied,wal/}, which the engine's playback
// assembles. A space kept per host comes as the paired host's checkpoint,
// {data,wal/<partId>}; the checkpoint of an upstream backup restored by
// itself whole, its own WAL included, as upstream's restore places it; as
// the base of later links, its data only, like ours.
func (p *RestorePlan) dataDownloads(a *Assignment, target *nebula.HostAddr, dataPath string, concurrency int32) []*pb.DownloadFileRequest {
	final := p.chain[len(p.chain)-1]
	var out []*pb.DownloadFileRequest
	for _, spaceID := range sortedSpaceIDs(final.Meta.SpaceBackups) {
		spaceDir := filepath.Join(dataPath, "nebula", fmt.Sprint(spaceID))
		first := p.fullLink(spaceID)
		l := p.chain[first]
		if l.perPart(spaceID) {
			for _, part := range a.partsOn(spaceID, target) {
				partDir := filepath.Join(spaceDir, "parts", fmt.Sprint(part))
				out = append(out, p.download(l, partKey(l.Name, spaceID, part), partDir, concurrency))
				for _, later := range p.chain[first+1:] {
					if key := later.walOf(spaceID, part, nil); key != "" {
						out = append(out, p.download(later, key, filepath.Join(partDir, "wal"), concurrency))
					}
				}
			}
			continue
		}
		source := a.source(target)
		if source == nil {
			continue // Assign refuses this: a per-host space needs pairs
		}
		for _, hb := range final.Meta.SpaceBackups[spaceID].HostBackups {
			if addr(hb.Host) != addr(source) {
				continue
			}
			if l.Layout == LayoutUpstream && first == len(p.chain)-1 {
				out = append(out, p.download(l, l.Layout.spaceDirKey(l.Name, spaceID, hb.Host, 0), spaceDir, concurrency))
			} else {
				out = append(out, p.download(l, l.Layout.dataKey(l.Name, spaceID, hb.Host, 0), filepath.Join(spaceDir, "data"), concurrency))
			}
			for _, later := range p.chain[first+1:] {
				for _, part := range partsOf(hb) {
					if key := later.walOf(spaceID, part, source); key != "" {
						out = append(out, p.download(later, key, filepath.Join(spaceDir, "wal", fmt.Sprint(part)), concurrency))
					}
				}
			}
		}
	}
	return out
}

// partsOf are the parts a host's backup of a space holds, in order.
func partsOf(hb *meta.HostBackupInfo) []nebula.PartitionID {
	var out []nebula.PartitionID
	for _, cp := range hb.Checkpoints {
		out = append(out, sortedParts(cp.Parts)...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
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

// HostJob is the agent job that gives target storage host, whose data
// path is dataPath, its share of the data: its downloads, then the
// playback of the chain's WAL.
func (p *RestorePlan) HostJob(run string, a *Assignment, target *nebula.HostAddr, dataPath string, concurrency int32) *pb.RestoreDataRequest {
	return &pb.RestoreDataRequest{Id: DataJobID(run), Downloads: p.dataDownloads(a, target, dataPath, concurrency),
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
func (p *RestorePlan) RestoreMetad(ctx context.Context, m *client.MetaClient, files []string, a *Assignment) error {
	spaces, err := m.ListSpaces(ctx)
	if err != nil {
		return mark(agentKind(err), fmt.Errorf("metad %s: list spaces: %w", m.Addr(), err))
	}
	if len(spaces) == 0 && len(p.Meta.SpaceBackups) > 0 {
		got, err := m.RestoreMeta(ctx, files, a.Pairs, a.placementInfo())
		if err != nil {
			return mark(agentKind(err), fmt.Errorf("restoreMeta on %s: %w", m.Addr(), err))
		}
		if err := a.check(got); err != nil {
			return mark(ErrTopology, fmt.Errorf("restoreMeta on %s: %w", m.Addr(), err))
		}
	}
	if err := p.FinishMeta(ctx, m); err != nil {
		return mark(agentKind(err), err)
	}
	return nil
}

// check compares the placement in metad's answer to restoreMeta with the
// assignment: an upstream metad ignores a placement it is given (and
// answers none; with host pairs that is its way, and fine).
func (a *Assignment) check(got map[nebula.GraphSpaceID][]*meta.PartInfo) error {
	if len(got) == 0 && a.Pairs != nil {
		return nil
	}
	for id, parts := range a.Placement {
		have := map[nebula.PartitionID][]string{}
		for _, pi := range got[id] {
			for _, h := range pi.Hosts {
				have[pi.PartID] = append(have[pi.PartID], addr(h))
			}
		}
		for part, hosts := range parts {
			var want []string
			for _, h := range hosts {
				want = append(want, addr(h))
			}
			sort.Strings(want)
			sort.Strings(have[part])
			if strings.Join(want, ",") != strings.Join(have[part], ",") {
				return fmt.Errorf("metad placed part %d of space %d on [%s], not on [%s] as asked: does it take a placement (nebula-lite's metad does; NebulaGraph's pairs hosts only)?",
					part, id, strings.Join(have[part], ","), strings.Join(want, ","))
			}
		}
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
