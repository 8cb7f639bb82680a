package br

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"path"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/nebula-open/nebula-br/internal/agent/pb"
	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

// BackupOptions configure `br backup full|incr`.
type BackupOptions struct {
	Options
	MetaAddr    string
	Incremental bool
	Base        string   // incremental: explicit base; else the newest usable one
	Spaces      []string // empty: all spaces
}

// BackupResult summarises a finished backup.
type BackupResult struct {
	Name    string
	Base    string
	Full    bool
	Bytes   int64
	Files   int
	Parts   int
	Hosts   int
	Elapsed time.Duration
}

func (r *BackupResult) String() string {
	kind := "full"
	if !r.Full {
		kind = "incremental on " + r.Base
	}
	return fmt.Sprintf("backup %s (%s) done: %s in %d files, %d parts on %d hosts, %s (%s)",
		r.Name, kind, HumanBytes(r.Bytes), r.Files, r.Parts, r.Hosts, r.Elapsed.Round(time.Millisecond), rate(r.Bytes, r.Elapsed))
}

// Backup takes a full or incremental backup. The backup is complete, and
// usable, only once its .meta is written, which is the last step; on any
// failure the snapshot is dropped and no .meta exists.
func Backup(ctx context.Context, o BackupOptions) (*BackupResult, error) {
	o.defaults()
	start := time.Now()
	st, err := openStorage(ctx, o.Storage, true)
	if err != nil {
		return nil, err
	}
	m, err := client.NewMetaClient(o.MetaAddr, client.Options{})
	if err != nil {
		return nil, fmt.Errorf("connect to metad %s: %w", o.MetaAddr, err)
	}
	defer m.Close()
	topo, err := discover(ctx, m)
	if err != nil {
		return nil, err
	}
	o.Log.Info("cluster discovered", "storage_hosts", len(topo.Storaged), "elapsed", time.Since(start))
	pool := newAgentPool()
	defer pool.close()
	if err := checkNotRestoring(ctx, pool, topo, o.MetaAddr); err != nil {
		return nil, err
	}

	var base *link
	bm, err := func() (*meta.BackupMeta, error) {
		if !o.Incremental {
			return m.CreateBackup(ctx, o.Spaces, "", 0)
		}
		bm, b, err := createIncremental(ctx, st, m, o)
		base = b
		return bm, err
	}()
	if err != nil {
		return nil, err
	}
	name := string(bm.BackupName)
	o.Log.Info("snapshot created", "name", name, "full", bm.Full, "base", string(bm.BaseBackupName), "elapsed", time.Since(start))
	res, err := upload(ctx, st, pool, topo, bm, base, o)
	// The snapshot's checkpoints are dropped either way: the data is
	// either stored now, or the backup failed.
	if derr := m.DropSnapshot(context.WithoutCancel(ctx), []string{name}); derr != nil {
		o.Log.Warn("drop snapshot failed; remove it with `br cleanup --meta`", "name", name, "err", derr)
	}
	if err != nil {
		return nil, fmt.Errorf("backup %s failed, nothing usable was written (no %s.meta; `br cleanup --name %s` removes the partial data): %w", name, name, name, err)
	}
	return res, nil
}

// createIncremental picks the base and asks metad for an incremental
// snapshot. Metad checks that the base is one of this cluster's backups.
func createIncremental(ctx context.Context, st objstore.Store, m *client.MetaClient, o BackupOptions) (*meta.BackupMeta, *link, error) {
	var candidates []string
	if o.Base != "" {
		if err := checkName(o.Base); err != nil {
			return nil, nil, err
		}
		candidates = []string{o.Base}
	} else {
		list, err := List(ctx, st)
		if err != nil {
			return nil, nil, err
		}
		for i := len(list) - 1; i >= 0; i-- {
			if list[i].Complete {
				candidates = append(candidates, list[i].Name)
			}
		}
		if len(candidates) == 0 {
			return nil, nil, fmt.Errorf("no complete backup under %s to base an incremental backup on: take a full backup first (`br backup full`)", st.URI())
		}
	}
	var lastErr error
	for _, name := range candidates {
		// The base's whole chain must be there and intact before metad is
		// asked for anything: an incremental on a broken chain could never
		// be restored.
		chain, err := loadChain(ctx, st, name)
		if err == nil {
			err = checkPresent(ctx, st, chain)
		}
		if err != nil {
			if o.Base != "" {
				return nil, nil, fmt.Errorf("base %s cannot be built on: %w (an incremental backup needs its whole chain intact under the same storage root; take a full backup)", name, err)
			}
			o.Log.Warn("skipping a base candidate whose chain is not intact", "base", name, "err", err)
			lastErr = err
			continue
		}
		base := chain[len(chain)-1]
		b := base.Meta
		bm, err := m.CreateBackup(ctx, o.Spaces, name, int64(b.ClusterID))
		if err == nil {
			return bm, base, nil
		}
		switch {
		case client.IsCode(err, nebula.ErrorCode_E_WRONGCLUSTER):
			lastErr = fmt.Errorf("base %s was taken from another cluster (cluster id %d): incremental backups need a base of the same cluster; take a full backup", name, b.ClusterID)
		case client.IsCode(err, nebula.ErrorCode_E_BACKUP_FAILED) && client.HostsDown(err) == nil: // a host down is no fault of the base
			lastErr = fmt.Errorf("base %s is not a backup of the cluster at %s: take a full backup", name, m.Addr())
		default:
			return nil, nil, err
		}
		if o.Base != "" {
			return nil, nil, lastErr
		}
	}
	return nil, nil, fmt.Errorf("no backup under %s can be the base of an incremental backup of this cluster (last: %v): take a full backup", st.URI(), lastErr)
}

// upload moves every part's data through the agents, then writes the
// manifest and, last, the .meta.
func upload(ctx context.Context, st objstore.Store, pool *agentPool, topo *topology, bm *meta.BackupMeta, base *link, o BackupOptions) (*BackupResult, error) {
	name := string(bm.BackupName)
	prog := newProgress("uploaded", o.Progress, o.Terminal)
	var (
		sumsMu sync.Mutex
		sums   []fileSum
	)
	collect := func(prefix string, files []*pb.FileSum) {
		sumsMu.Lock()
		defer sumsMu.Unlock()
		for _, f := range files {
			sums = append(sums, fileSum{Key: path.Join(prefix, f.Key), Size: f.Size, CRC32C: f.Crc32C})
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Concurrency)
	backend := o.Storage.backend()

	// metad's export.
	if len(bm.MetaFiles) == 0 {
		return nil, fmt.Errorf("metad returned no meta files")
	}
	metaDir := filepath.Dir(string(bm.MetaFiles[0]))
	g.Go(func() error {
		prefix := metaDirKey(name)
		files, err := pool.upload(gctx, topo.Metad.Agent, &pb.UploadFileRequest{SourcePath: metaDir, Backend: backend, Prefix: prefix, Concurrency: 2}, prog.task())
		collect(prefix, files)
		return err
	})

	perPart := exportsParts(ctx, pool, topo)
	parts, hosts := 0, map[string]bool{}
	for spaceID, sb := range bm.SpaceBackups {
		newSpace := base == nil || base.Meta.SpaceBackups[spaceID] == nil
		for _, hb := range sb.HostBackups {
			svc := topo.storage(hb.Host)
			if svc == nil {
				return nil, fmt.Errorf("storage host %s holds parts of space %s but metad lists no such service", addr(hb.Host), sb.Space.SpaceName)
			}
			hosts[addr(hb.Host)] = true
			for _, cp := range hb.Checkpoints {
				parts += len(cp.Parts)
				if newSpace {
					prefix := dataKey(name, spaceID, hb.Host)
					req := &pb.UploadFileRequest{SourcePath: filepath.Join(string(cp.DataPath), "data"), Backend: backend, Prefix: prefix, Concurrency: 4}
					if perPart && len(cp.Parts) == 0 {
						continue // a replicated space's host that leads none of its parts
					}
					if perPart {
						prefix = path.Join(name, "data", fmt.Sprint(spaceID))
						// Only the parts metad lists for this host: with
						// replicas, those it leads (each part once).
						req = &pb.UploadFileRequest{SourcePath: string(cp.DataPath), ExportParts: true, Parts: partIDs(cp.Parts),
							Backend: backend, Prefix: prefix, Concurrency: 4}
					}
					g.Go(func() error {
						files, err := pool.upload(gctx, svc.Agent, req, prog.task())
						collect(prefix, files)
						return err
					})
					continue
				}
				for partID, li := range cp.Parts {
					after, ok := baseLogID(base.Meta, spaceID, hb.Host, partID, perPart)
					if !ok {
						return nil, fmt.Errorf("space %s part %d: not in base %s on %s (parts moved?): take a full backup", sb.Space.SpaceName, partID, base.Name, addr(hb.Host))
					}
					if int64(li.LogID) <= after {
						continue // nothing written since the base
					}
					prefix := walKey(name, spaceID, hb.Host, partID)
					if perPart {
						prefix = partWALKey(name, spaceID, partID)
					}
					req := &pb.IncrUploadFileRequest{
						WalDir: filepath.Join(string(cp.DataPath), "wal", fmt.Sprint(partID)), AfterLogId: after, UpToLogId: int64(li.LogID),
						SpaceId: int32(spaceID), PartId: int32(partID), Backend: backend, Prefix: prefix, Concurrency: 2,
					}
					g.Go(func() error {
						files, err := pool.incrUpload(gctx, svc.Agent, req, prog.task())
						collect(prefix, files)
						return err
					})
				}
			}
		}
	}
	err := g.Wait()
	bytesDone, files, took := prog.finish()
	o.Log.Info("data uploaded", "bytes", bytesDone, "files", files, "took", took)
	if err != nil {
		return nil, err
	}
	// The manifest covers .meta too, and goes first: .meta is the commit.
	mb, err := encodeMeta(bm)
	if err != nil {
		return nil, err
	}
	sums = append(sums, fileSum{Key: metaKey(name), Size: int64(len(mb)), CRC32C: crc32.Checksum(mb, castagnoli)})
	if err := put(ctx, st, manifestKey(name), encodeManifest(name, sums)); err != nil {
		return nil, fmt.Errorf("write %s: %w", manifestKey(name), err)
	}
	if err := put(ctx, st, metaKey(name), mb); err != nil {
		return nil, fmt.Errorf("write %s: %w", metaKey(name), err)
	}
	res := &BackupResult{Name: name, Full: bm.Full, Base: string(bm.BaseBackupName), Bytes: bytesDone, Files: files, Parts: parts, Hosts: len(hosts), Elapsed: took}
	return res, nil
}

// partIDs are a checkpoint's parts, in order.
func partIDs(parts map[nebula.PartitionID]*nebula.LogInfo) []int32 {
	var out []int32
	for _, id := range sortedParts(parts) {
		out = append(out, int32(id))
	}
	return out
}

// exportsParts reports whether every storage host's agent is a br-agent
// managing nebula-lite, whose checkpoints are exported per part; the
// backup then keeps each part on its own (layout.go). Any other, or an
// agent that does not answer (the upload then says why), keeps the
// per-host layout for the whole backup.
func exportsParts(ctx context.Context, pool *agentPool, topo *topology) bool {
	for _, s := range topo.Storaged {
		c, err := pool.get(ctx, s.Agent)
		if err != nil {
			return false
		}
		hc, err := c.HealthCheck(ctx)
		if err != nil || hc.Engine != EngineNebulaLite {
			return false
		}
	}
	return len(topo.Storaged) > 0
}

// baseLogID is the commit log id a part had in the base backup: on host,
// or, anyHost, wherever it was (a backup kept per part does not care
// which host a part's data comes from).
func baseLogID(base *meta.BackupMeta, space nebula.GraphSpaceID, host *nebula.HostAddr, part nebula.PartitionID, anyHost bool) (int64, bool) {
	sb := base.SpaceBackups[space]
	if sb == nil {
		return 0, false
	}
	for _, hb := range sb.HostBackups {
		if !anyHost && addr(hb.Host) != addr(host) {
			continue
		}
		for _, cp := range hb.Checkpoints {
			if li, ok := cp.Parts[part]; ok {
				return int64(li.CommitLogID), true
			}
		}
	}
	return 0, false
}

func put(ctx context.Context, st objstore.Store, key string, b []byte) error {
	return st.Put(ctx, key, bytes.NewReader(b), int64(len(b)))
}

// openStorage opens and checks the storage root; a root only read (write
// false) is not created.
func openStorage(ctx context.Context, s Storage, write bool) (objstore.Store, error) {
	st, err := objstore.Open(ctx, s.URI, s.Config(!write))
	if err != nil {
		return nil, mark(storageKind(err), s.RedactError(err))
	}
	if err := st.Check(ctx); err != nil {
		return nil, mark(storageKind(err), s.RedactError(err))
	}
	return st, nil
}

func sortedSpaceIDs(m map[nebula.GraphSpaceID]*meta.SpaceBackupInfo) []nebula.GraphSpaceID {
	ids := make([]nebula.GraphSpaceID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}
