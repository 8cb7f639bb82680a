package metad

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nebula-open/nebula-br/internal/nebula/client"
)

// Admin is storaged's admin service as metad uses it.
type Admin interface {
	BlockingWrites(ctx context.Context, spaces []int32, on bool, o client.CutOptions) error
	CreateCheckpoint(ctx context.Context, spaces []int32, name string, o client.CutOptions) ([]CheckpointInfo, error)
	DropCheckpoint(ctx context.Context, spaces []int32, name string) error
	Close() error
}

// AdminDialer connects to the admin service of a storaged (given by its
// data address; the admin port is the data port - 1, as in NebulaGraph).
type AdminDialer func(ctx context.Context, storaged Addr) (Admin, error)

// LogInfo is a part's position in a checkpoint.
type LogInfo struct {
	LogID, TermID, CommitLogID int64
	CheckpointPath             string
}

// CheckpointInfo is one space's checkpoint on one host.
type CheckpointInfo struct {
	SpaceID  int32
	Parts    map[int32]LogInfo
	DataPath string
}

// HostBackup is what one storage host contributed to one space.
type HostBackup struct {
	Host        Addr
	Checkpoints []CheckpointInfo
}

// SpaceBackup is one space of a backup.
type SpaceBackup struct {
	Space *Space
	Hosts []HostBackup
}

// BackupMeta is createBackup's answer (meta.BackupMeta on the wire).
type BackupMeta struct {
	Spaces       map[int32]*SpaceBackup
	MetaFiles    []string
	Name         string
	Full         bool
	AllSpaces    bool
	CreateTime   int64 // ms
	Base         string
	StorageHosts []Addr
	ClusterID    int64
}

// BackupName is NebulaGraph's naming: BACKUP_YYYY_MM_DD_HH_MM_SS.
func BackupName(t time.Time) string { return t.Format("BACKUP_2006_01_02_15_04_05") }

// CreateBackup cuts a consistent snapshot of the cluster: writes to the
// spaces are blocked only while every storaged cuts its checkpoint; then
// metad exports its own state and records the snapshot.
//
// As in NebulaGraph's metad, the snapshot is recorded INVALID when the
// backup starts and VALID when it completes, so listSnapshots shows a
// backup in progress; unlike NebulaGraph's, a failed backup removes its
// snapshot (its checkpoints are dropped already). A second backup while
// one runs is refused with E_BACKUP_RUNNING_JOBS rather than queued.
func (m *Metad) CreateBackup(ctx context.Context, spaceNames []string, base string, clusterID int64) (*BackupMeta, error) {
	if !m.backupMu.TryLock() {
		m.mu.Lock()
		name, since := m.running, time.Since(m.runningSince).Round(time.Second)
		m.mu.Unlock()
		if name == "" {
			return nil, coded(codeBackupRunningJobs, "another backup is starting: wait for it to finish")
		}
		return nil, coded(codeBackupRunningJobs, "backup %s is in progress (for %s; listSnapshots shows it INVALID): wait for it to finish", name, since)
	}
	defer m.backupMu.Unlock()

	m.mu.Lock()
	bm := &BackupMeta{Full: base == "", Base: base, ClusterID: m.st.clusterID, AllSpaces: len(spaceNames) == 0, Spaces: map[int32]*SpaceBackup{}}
	var baseSpaces []int32
	if base != "" {
		rec := m.st.backups[base]
		if rec == nil {
			m.mu.Unlock()
			return nil, coded(codeBackupFailed, "base backup %s is unknown to this cluster: take a full backup first", base)
		}
		if clusterID != 0 && clusterID != m.st.clusterID {
			m.mu.Unlock()
			return nil, coded(codeWrongCluster, "base backup %s belongs to cluster %d, this is cluster %d", base, clusterID, m.st.clusterID)
		}
		baseSpaces = rec.Spaces
	}
	var spaces []*Space
	if bm.AllSpaces {
		for _, sp := range m.st.sortedSpaces() {
			spaces = append(spaces, cloneSpace(sp))
		}
	} else {
		for _, n := range spaceNames {
			sp := m.st.spaceByName(n)
			if sp == nil {
				m.mu.Unlock()
				return nil, coded(codeBackupSpaceNotFound, "space %s not found", n)
			}
			spaces = append(spaces, cloneSpace(sp))
		}
	}
	// A name is unique: wait for the next second rather than reuse one.
	now := time.Now()
	for m.st.backups[BackupName(now)] != nil || m.st.snapshots[BackupName(now)] != nil {
		m.mu.Unlock()
		time.Sleep(time.Until(now.Truncate(time.Second).Add(time.Second)))
		now = time.Now()
		m.mu.Lock()
	}
	bm.Name, bm.CreateTime = BackupName(now), now.UnixMilli()
	for _, h := range m.hostsLocked(RoleStorage) {
		bm.StorageHosts = append(bm.StorageHosts, h.Addr)
	}
	m.running, m.runningSince = bm.Name, now
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.running = ""
		m.mu.Unlock()
	}()

	// Which hosts hold which spaces.
	hostSpaces := map[Addr][]int32{}
	var ids []int32
	for _, sp := range spaces {
		ids = append(ids, sp.ID)
		bm.Spaces[sp.ID] = &SpaceBackup{Space: sp}
		seen := map[Addr]bool{}
		for _, hosts := range sp.Parts {
			for _, h := range hosts {
				if !seen[h] {
					seen[h] = true
					hostSpaces[h] = append(hostSpaces[h], sp.ID)
				}
			}
		}
	}
	m.leaveOutDownReplicas(bm, hostSpaces)
	hosts := make([]Addr, 0, len(hostSpaces))
	for h := range hostSpaces {
		hosts = append(hosts, h)
		sort.Slice(hostSpaces[h], func(i, j int) bool { return hostSpaces[h][i] < hostSpaces[h][j] })
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].String() < hosts[j].String() })

	// The snapshot is INVALID until the backup completes; a failed backup
	// removes it.
	m.mu.Lock()
	err := m.putSnapshot(&Snapshot{Name: bm.Name, Status: snapshotInvalid, Hosts: hosts, Spaces: ids})
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	completed := false
	defer func() {
		if completed {
			return
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(m.st.snapshots, bm.Name)
		if err := m.st.del(pfxSnapshot + bm.Name); err != nil {
			m.log.Warn("remove the snapshot of a failed backup", "name", bm.Name, "err", err)
		}
	}()

	admins := map[Addr]Admin{}
	defer func() {
		for _, a := range admins {
			a.Close()
		}
	}()
	for _, h := range hosts {
		a, err := m.connectAdmin(ctx, h)
		if err != nil {
			return nil, coded(codeBackupFailed, "backup %s: storage host %s unreachable: %v", bm.Name, h, err)
		}
		admins[h] = a
	}
	// An incremental backup takes only WAL, unless a space is new since its
	// base (its data is backed up in full): the hosts then neither flush
	// nor cut their data.
	opts := client.CutOptions{WALOnly: base != "" && !slices.ContainsFunc(ids, func(id int32) bool { return !slices.Contains(baseSpaces, id) })}
	cut, err := m.cutWithLeaders(ctx, bm, hosts, hostSpaces, admins, opts)
	if err != nil {
		m.dropCheckpoints(ctx, cut, hostSpaces, admins, bm.Name)
		return nil, err
	}

	exportDir := m.exportDir(bm.Name)
	files, err := m.exportState(exportDir)
	if err != nil {
		m.dropCheckpoints(ctx, cut, hostSpaces, admins, bm.Name)
		return nil, coded(codeBackupFailed, "backup %s: %v", bm.Name, err)
	}
	bm.MetaFiles = files

	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.putSnapshot(&Snapshot{Name: bm.Name, Status: snapshotValid, Hosts: hosts, Spaces: ids}); err != nil {
		return nil, err
	}
	completed = true
	rec := &BackupRecord{Name: bm.Name, ClusterID: bm.ClusterID, Full: bm.Full, Base: base, Spaces: ids, CreateTime: bm.CreateTime}
	if err := m.st.put(pfxBackup+rec.Name, rec); err != nil {
		return nil, err
	}
	m.st.backups[rec.Name] = rec
	m.log.Info("backup snapshot created", "name", bm.Name, "spaces", ids, "hosts", len(hosts), "full", bm.Full)
	return bm, nil
}

// leaveOutDownReplicas drops from the backup the storage hosts that are
// offline and hold only replicas of replicated spaces, as NebulaGraph's
// metad backs up its active hosts: the leaders elected elsewhere cover
// their parts (cutWithLeaders checks that they do). A down host holding a
// space's only replica stays in, and the backup fails naming it.
func (m *Metad) leaveOutDownReplicas(bm *BackupMeta, hostSpaces map[Addr][]int32) {
	for _, h := range m.Hosts(RoleStorage) {
		spaces, ok := hostSpaces[h.Addr]
		if h.Online || !ok || slices.ContainsFunc(spaces, func(id int32) bool { return bm.Spaces[id].Space.ReplicaFactor <= 1 }) {
			continue
		}
		m.log.Warn("storage host offline: backing up its parts from the other replicas", "name", bm.Name, "host", h.Addr.String())
		delete(hostSpaces, h.Addr)
	}
}

// putSnapshot records a snapshot (mu held).
func (m *Metad) putSnapshot(s *Snapshot) error {
	if err := m.st.put(pfxSnapshot+s.Name, s); err != nil {
		return err
	}
	m.st.snapshots[s.Name] = s
	return nil
}

// adminRetries are the waits before reconnecting to a storage host's admin
// service: a name lookup or a connect can fail for a moment (cluster DNS
// under load, a pod IP being re-published), and nothing is blocked yet.
var adminRetries = []time.Duration{300 * time.Millisecond, time.Second}

func (m *Metad) connectAdmin(ctx context.Context, h Addr) (Admin, error) {
	a, err := m.cfg.Admin(ctx, h)
	for _, wait := range adminRetries {
		if err == nil {
			return a, nil
		}
		m.log.Warn("storage host unreachable, retrying", "host", h.String(), "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
		a, err = m.cfg.Admin(ctx, h)
	}
	return a, err
}

// cutCheckpoints blocks writes everywhere, cuts a checkpoint on every host
// and unblocks each host, whatever happens. It returns the hosts that cut
// one.
func (m *Metad) cutCheckpoints(ctx context.Context, bm *BackupMeta, hosts []Addr, hostSpaces map[Addr][]int32, admins map[Addr]Admin, opts client.CutOptions) ([]Addr, error) {
	start := time.Now()
	if !opts.WALOnly {
		// Every host flushes first, writes still flowing: BLOCK_ON then has
		// little to flush, and no host blocked early waits for another's
		// flush under the block.
		prepare := client.CutOptions{PrepareOnly: true}
		for i, err := range parallel(len(hosts), func(i int) error { return admins[hosts[i]].BlockingWrites(ctx, hostSpaces[hosts[i]], true, prepare) }) {
			if err != nil {
				m.log.Warn("prepare the cut: the host flushes under the block instead", "host", hosts[i], "err", err)
			}
		}
	}
	blockErrs := make([]error, len(hosts))
	cps := make([][]CheckpointInfo, len(hosts))
	var blocking sync.WaitGroup
	blocking.Add(len(hosts))
	allBlocked := make(chan struct{})
	go func() { blocking.Wait(); close(allBlocked) }()
	// Every host in parallel, each cut as soon as the host is blocked: a
	// blocked host takes no write, and none is unblocked before every host
	// is blocked, so the backup holds exactly the writes each host took
	// before it was blocked, and no write that followed one left out. A
	// host's stall is then the longer of its cut and the wait for the
	// others to block, not their sum.
	results := parallel(len(hosts), func(i int) error {
		h := hosts[i]
		blockErrs[i] = admins[h].BlockingWrites(ctx, hostSpaces[h], true, opts)
		blocking.Done()
		if blockErrs[i] != nil {
			return blockErrs[i]
		}
		var err error
		cps[i], err = admins[h].CreateCheckpoint(ctx, hostSpaces[h], bm.Name, opts)
		<-allBlocked
		if uerr := admins[h].BlockingWrites(context.WithoutCancel(ctx), hostSpaces[h], false, opts); uerr != nil {
			m.log.Warn("unblock writes failed; they lift by themselves after the block timeout", "host", h, "err", uerr)
		}
		return err
	})
	var cut []Addr
	for i, h := range hosts {
		if results[i] == nil {
			cut = append(cut, h)
		}
	}
	for i, h := range hosts {
		if blockErrs[i] != nil {
			return cut, coded(codeBackupFailed, "backup %s: block writes on %s: %v", bm.Name, h, blockErrs[i])
		}
	}
	for i, h := range hosts {
		if results[i] != nil {
			return cut, coded(codeBackupFailed, "backup %s: checkpoint on %s: %v", bm.Name, h, results[i])
		}
		for _, cp := range cps[i] {
			if sb := bm.Spaces[cp.SpaceID]; sb != nil {
				sb.Hosts = append(sb.Hosts, HostBackup{Host: h, Checkpoints: []CheckpointInfo{cp}})
			}
		}
	}
	m.log.Info("checkpoints cut", "name", bm.Name, "took", time.Since(start))
	return cut, nil
}

// leaderWaits are the pauses before cutting again when some part had no
// leader holding every committed write at the cut: an election under way
// (a storaged just died, a leader moved) settles within a few seconds.
var leaderWaits = []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}

// cutWithLeaders cuts the checkpoints until every part of every space is
// listed once, by a host whose cut holds all of it; a cut that misses a
// part is dropped, never mixed with a later one.
func (m *Metad) cutWithLeaders(ctx context.Context, bm *BackupMeta, hosts []Addr, hostSpaces map[Addr][]int32, admins map[Addr]Admin, opts client.CutOptions) ([]Addr, error) {
	for attempt := 0; ; attempt++ {
		cut, err := m.cutCheckpoints(ctx, bm, hosts, hostSpaces, admins, opts)
		if err != nil {
			return cut, err
		}
		missing := onePerPart(bm)
		if len(missing) == 0 {
			return cut, nil
		}
		m.dropCheckpoints(ctx, cut, hostSpaces, admins, bm.Name)
		for _, sb := range bm.Spaces {
			sb.Hosts = nil
		}
		if attempt == len(leaderWaits) {
			return nil, coded(codeBackupFailed, "backup %s: no storage host led %s with every committed write when the checkpoints were cut, in %d tries: a leader election did not settle, or every host holding a replica is down; check SHOW HOSTS (each part needs a live leader), then run the backup again",
				bm.Name, strings.Join(missing, ", "), attempt+1)
		}
		m.log.Warn("some parts had no up-to-date leader at the cut: cutting again", "name", bm.Name, "parts", missing, "in", leaderWaits[attempt])
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(leaderWaits[attempt]):
		}
	}
}

func (m *Metad) dropCheckpoints(ctx context.Context, hosts []Addr, hostSpaces map[Addr][]int32, admins map[Addr]Admin, name string) {
	for _, h := range hosts {
		if err := admins[h].DropCheckpoint(context.WithoutCancel(ctx), hostSpaces[h], name); err != nil {
			m.log.Warn("drop checkpoint failed", "host", h, "name", name, "err", err)
		}
	}
	os.RemoveAll(m.exportDir(name))
}

func (m *Metad) exportDir(name string) string {
	return filepath.Join(m.cfg.DataPath, "nebula", "0", "checkpoints", name)
}

func (m *Metad) exportState(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st.export(dir)
}

// DropSnapshots removes snapshots' checkpoints from the storage hosts and
// metad's export. The backup records stay: they are incremental bases.
func (m *Metad) DropSnapshots(ctx context.Context, names []string) error {
	var errs []error
	for _, name := range names {
		m.mu.Lock()
		snap := m.st.snapshots[name]
		m.mu.Unlock()
		if snap == nil {
			errs = append(errs, coded(codeSnapshotFailure, "snapshot %s not found", name))
			continue
		}
		results := parallel(len(snap.Hosts), func(i int) error {
			a, err := m.cfg.Admin(ctx, snap.Hosts[i])
			if err == nil {
				err = a.DropCheckpoint(ctx, snap.Spaces, name)
				a.Close()
			}
			return err
		})
		for i, err := range results {
			if err != nil {
				errs = append(errs, coded(codeSnapshotFailure, "drop snapshot %s on %s: %v", name, snap.Hosts[i], err))
			}
		}
		os.RemoveAll(m.exportDir(name))
		m.mu.Lock()
		delete(m.st.snapshots, name)
		err := m.st.del(pfxSnapshot + name)
		m.mu.Unlock()
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Snapshots lists the snapshots in name (= time) order.
func (m *Metad) Snapshots() []Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Snapshot
	for _, s := range m.st.snapshots {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// HostPair maps a host of the backed-up cluster to one of this cluster.
type HostPair struct{ From, To Addr }

// RestoreMeta loads an exported meta state (the backup's meta files, all in
// one directory), rewrites every host reference through pairs, and replaces
// this cluster's spaces with the backup's. It returns the new placement.
func (m *Metad) RestoreMeta(files []string, pairs []HostPair, given map[int32]map[int32][]Addr) (map[int32]map[int32][]Addr, error) {
	if len(files) == 0 {
		return nil, coded(codeRestoreFailure, "restoreMeta: no meta files given")
	}
	dir := filepath.Dir(files[0])
	for _, f := range files {
		if filepath.Dir(f) != dir {
			return nil, coded(codeRestoreFailure, "restoreMeta: meta files must be in one directory, got %s and %s", dir, filepath.Dir(f))
		}
		if _, err := os.Stat(f); err != nil {
			return nil, coded(codeRestoreFailure, "restoreMeta: %v", err)
		}
	}
	src, err := readExport(dir)
	if err != nil {
		return nil, coded(codeRestoreFailure, "restoreMeta: %v", err)
	}
	mapping := map[Addr]Addr{}
	for _, p := range pairs {
		mapping[p.From] = p.To
	}
	placement := map[int32]map[int32][]Addr{}
	var restored []*Space
	for _, sp := range src.spaces {
		parts, placed := given[sp.ID]
		if !placed && len(pairs) == 0 {
			// Neither placed nor paired: a space the backup does not hold
			// (a per-space backup's export has them all). Not restored.
			m.log.Info("restoreMeta: space not placed, not restored", "space", sp.Name)
			continue
		}
		restored = append(restored, sp)
		placement[sp.ID] = map[int32][]Addr{}
		if placed {
			// Placed as given (a restore into another number of hosts):
			// every part, on replica_factor distinct hosts.
			for part := int32(1); part <= sp.PartitionNum; part++ {
				hosts := parts[part]
				distinct := map[Addr]bool{}
				for _, h := range hosts {
					distinct[h] = true
				}
				if len(hosts) != int(max(sp.ReplicaFactor, 1)) || len(distinct) != len(hosts) {
					return nil, coded(codeRestoreFailure, "restoreMeta: space %s part %d placed on %v: want %d distinct hosts (its replica_factor)", sp.Name, part, hosts, sp.ReplicaFactor)
				}
				sp.Parts[part] = append([]Addr(nil), hosts...)
				placement[sp.ID][part] = sp.Parts[part]
			}
			continue
		}
		for part, hosts := range sp.Parts {
			for i, h := range hosts {
				to, ok := mapping[h]
				if !ok {
					return nil, coded(codeRestoreFailure, "restoreMeta: space %s part %d is on %s, which no host pair maps to this cluster", sp.Name, part, h)
				}
				hosts[i] = to
			}
			placement[sp.ID][part] = hosts
		}
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.st.spaces {
		if err := m.st.del(spaceKey(id)); err != nil {
			return nil, err
		}
	}
	m.st.spaces = map[int32]*Space{}
	for _, sp := range restored {
		m.st.spaces[sp.ID] = sp
		if err := m.st.saveSpace(sp); err != nil {
			return nil, err
		}
	}
	if src.nextID > m.st.nextID {
		m.st.nextID = src.nextID
		if err := m.st.put(keyNextID, m.st.nextID); err != nil {
			return nil, err
		}
	}
	m.log.Info("meta restored", "from", dir, "spaces", len(restored), "host_pairs", len(pairs), "placed", len(given))
	return placement, nil
}

// parallel runs fn(0..n-1) at once and returns the errors in order.
func parallel(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return errs
}

// onePerPart keeps, of the parts the storage hosts listed in their
// checkpoints, each part once: a storaged lists a replicated part only
// where it leads with every committed write (two may, across a leader
// change: the later term wins). It returns the parts no host listed.
func onePerPart(bm *BackupMeta) []string {
	var missing []string
	for _, id := range slices.Sorted(maps.Keys(bm.Spaces)) {
		sb := bm.Spaces[id]
		type claim struct {
			host int
			li   LogInfo
		}
		best := map[int32]claim{}
		for i, hb := range sb.Hosts {
			for p, li := range hb.Checkpoints[0].Parts {
				if c, ok := best[p]; !ok || li.TermID > c.li.TermID || li.TermID == c.li.TermID && li.LogID > c.li.LogID {
					best[p] = claim{i, li}
				}
			}
		}
		for i, hb := range sb.Hosts {
			for p := range hb.Checkpoints[0].Parts {
				if best[p].host != i {
					delete(hb.Checkpoints[0].Parts, p)
				}
			}
		}
		for p := int32(1); p <= sb.Space.PartitionNum; p++ {
			if _, ok := best[p]; !ok {
				missing = append(missing, fmt.Sprintf("space %s part %d", sb.Space.Name, p))
			}
		}
	}
	return missing
}
