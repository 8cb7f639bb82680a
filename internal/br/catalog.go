package br

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"sort"
	"strings"
	"time"

	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

// Backup statuses, as `br show` prints them.
const (
	StatusComplete = "complete" // restorable: .meta, manifest and chain intact
	// StatusCompleteNoManifest: restorable, .meta and completeness
	// checked, but written without a manifest (nebula-br v3.6.0's layout):
	// no object has a checksum to check.
	StatusCompleteNoManifest = "complete (no manifest)"
	StatusIncomplete         = "incomplete"   // no .meta: a backup that did not finish (br cleanup removes it)
	StatusDamaged            = "damaged"      // its .meta or manifest is unreadable or inconsistent
	StatusBrokenChain        = "broken chain" // a base is missing or damaged
)

// BackupInfo is one backup under a storage root, as `br show` lists it.
type BackupInfo struct {
	Name       string
	Status     string // StatusComplete, ...
	Problem    string // why, when not complete
	Complete   bool   // restorable: Status is StatusComplete or StatusCompleteNoManifest
	Layout     Layout // as detected from what is stored (when .meta was readable)
	Note       string // what a user should know of a complete backup (no checksums)
	Full       bool
	Base       string
	Spaces     []string
	CreateTime time.Time
	ClusterID  int64
	Size       int64
	Objects    int
}

// List returns every backup under the root, oldest first, with its
// status. It reads only.
func List(ctx context.Context, st objstore.Store) ([]BackupInfo, error) {
	byName := map[string]*BackupInfo{}
	hasMeta := map[string]bool{}
	err := st.List(ctx, "", func(o objstore.ObjectInfo) error {
		name, _, _ := strings.Cut(o.Key, "/")
		if !ValidName(name) {
			return nil
		}
		b := byName[name]
		if b == nil {
			b = &BackupInfo{Name: name, Status: StatusIncomplete, Problem: "no " + metaKey(name)}
			byName[name] = b
		}
		b.Size += o.Size
		b.Objects++
		if o.Key == metaKey(name) {
			hasMeta[name] = true
		}
		return nil
	})
	if err != nil {
		return nil, mark(storageKind(err), fmt.Errorf("list %s: %w", st.URI(), err))
	}
	var out []BackupInfo
	read := cachedLinks(ctx, st)
	for _, b := range byName {
		if hasMeta[b.Name] {
			if err := describe(read, b); err != nil {
				return nil, err
			}
		}
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// describe fills a backup's details and status from its .meta, manifest
// and chain; only a storage failure is an error.
func describe(read linkReader, b *BackupInfo) error {
	l, err := read(b.Name)
	if err != nil {
		if Transient(err) || errors.Is(err, ErrStorageRefused) {
			return err
		}
		b.Status, b.Problem = StatusDamaged, err.Error()
		return nil
	}
	bm := l.Meta
	b.Layout = l.Layout
	b.Full, b.Base, b.ClusterID = bm.Full, string(bm.BaseBackupName), int64(bm.ClusterID)
	b.CreateTime = time.UnixMilli(bm.CreateTime)
	for _, id := range sortedSpaceIDs(bm.SpaceBackups) {
		b.Spaces = append(b.Spaces, string(bm.SpaceBackups[id].Space.SpaceName))
	}
	_, err = chainOf(b.Name, read)
	var ce *chainError
	switch {
	case err == nil && !l.Layout.Checksums():
		b.Status, b.Problem, b.Complete = StatusCompleteNoManifest, "", true
		b.Note = noChecksumsNote(l)
	case err == nil:
		b.Status, b.Problem, b.Complete = StatusComplete, "", true
	case Transient(err) || errors.Is(err, ErrStorageRefused):
		return err
	case errors.As(err, &ce) && ce.Link != b.Name:
		b.Status, b.Problem = StatusBrokenChain, err.Error()
	default:
		b.Status, b.Problem = StatusDamaged, err.Error()
	}
	return nil
}

// noChecksumsNote says what cannot be checked of a backup without a
// manifest.
func noChecksumsNote(l *link) string {
	return fmt.Sprintf("written in %s's layout, which keeps no manifest: its objects have no checksums to verify", l.Layout)
}

// Show lists the backups of a root.
func Show(ctx context.Context, o Options) ([]BackupInfo, error) {
	o.defaults()
	st, err := openStorage(ctx, o.Storage, false)
	if err != nil {
		return nil, err
	}
	return List(ctx, st)
}

// VerifyReport is what `br verify` found.
type VerifyReport struct {
	Chain   []string
	Objects int
	Bytes   int64
	Quick   bool     // sizes only
	Missing []string // objects the manifest lists that are not there
	Corrupt []string // "key: why"
	Damaged []string // a manifest or .meta that is unreadable or inconsistent, what .meta needs and no manifest lists
	// NoChecksums are the links of the chain without a manifest
	// (nebula-br v3.6.0's layout): their .meta, meta files and checkpoint
	// data were checked to be there, their objects' content cannot be.
	NoChecksums []string
	Notes       []string // said of the backup besides problems (what was not checked)
}

// OK is true when nothing is missing, corrupt or damaged.
func (r *VerifyReport) OK() bool {
	return len(r.Missing) == 0 && len(r.Corrupt) == 0 && len(r.Damaged) == 0
}

// Verify checks a backup and its whole chain back to the full backup:
// each link's manifest (its own checksum and count), .meta against it,
// completeness against what .meta says each host, space and part needs,
// then every object's size and CRC-32C (quick: sizes only). A backup
// that is not there is an error; one that is damaged is a report.
func Verify(ctx context.Context, o Options, name string, quick bool) (*VerifyReport, error) {
	o.defaults()
	if err := checkName(name); err != nil {
		return nil, err
	}
	st, err := openStorage(ctx, o.Storage, false)
	if err != nil {
		return nil, err
	}
	r := &VerifyReport{Quick: quick}
	chain, err := loadChain(ctx, st, name)
	if errors.Is(err, ErrBackupDamaged) {
		r.Damaged = append(r.Damaged, err.Error())
		return r, nil
	}
	if err != nil {
		return nil, err
	}
	for _, l := range chain {
		r.Chain = append(r.Chain, l.Name)
		if !l.Layout.Checksums() {
			// The objects are those listed: present, with the listed
			// sizes; nothing says what their content should be.
			for _, s := range l.Sums {
				r.Objects++
				r.Bytes += s.Size
			}
			r.NoChecksums = append(r.NoChecksums, l.Name)
			r.Notes = append(r.Notes, fmt.Sprintf("%s: %s; checked: its .meta, every meta file it lists, and the checkpoint data of every host and space it names",
				l.Name, noChecksumsNote(l)))
			continue
		}
		var sizes map[string]int64
		if quick {
			if sizes, err = objectSizes(ctx, st, l.Name); err != nil {
				return nil, err
			}
		}
		for _, s := range l.Sums {
			r.Objects++
			var size int64
			var crc uint32
			var err error
			if quick {
				var ok bool
				if size, ok = sizes[s.Key]; !ok {
					err = objstore.ErrNotFound
				}
				crc = s.CRC32C
			} else {
				size, crc, err = objstore.Checksum(ctx, st, s.Key)
			}
			switch {
			case errors.Is(err, objstore.ErrNotFound):
				r.Missing = append(r.Missing, s.Key)
			case err != nil:
				return r, mark(storageKind(err), fmt.Errorf("read %s: %w", s.Key, err))
			case size != s.Size:
				r.Corrupt = append(r.Corrupt, fmt.Sprintf("%s: size %d, want %d", s.Key, size, s.Size))
			case crc != s.CRC32C:
				r.Corrupt = append(r.Corrupt, fmt.Sprintf("%s: crc32c %08x, want %08x", s.Key, crc, s.CRC32C))
			default:
				r.Bytes += size
			}
		}
	}
	return r, nil
}

// Summary is the line `br verify` ends with when the backup is OK.
func (r *VerifyReport) Summary(name string) string {
	checked := "sizes and checksums"
	if r.Quick {
		checked = "sizes (--quick)"
	}
	if len(r.NoChecksums) == 0 {
		return fmt.Sprintf("backup %s is intact: %d objects, %s, chain %v; manifest, completeness and %s checked",
			name, r.Objects, HumanBytes(r.Bytes), r.Chain, checked)
	}
	if len(r.NoChecksums) == len(r.Chain) {
		return fmt.Sprintf("backup %s is complete: %d objects, %s, chain %v; .meta and completeness checked; object checksums NOT verified: no manifest (nebula-br v3.6.0's layout)",
			name, r.Objects, HumanBytes(r.Bytes), r.Chain)
	}
	return fmt.Sprintf("backup %s is complete: %d objects, %s, chain %v; manifests, completeness and %s checked, except the checksums of %v, which has no manifest (nebula-br v3.6.0's layout)",
		name, r.Objects, HumanBytes(r.Bytes), r.Chain, checked, r.NoChecksums)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// objectSizes lists a backup's objects: key to size.
func objectSizes(ctx context.Context, st objstore.Store, name string) (map[string]int64, error) {
	sizes := map[string]int64{}
	if err := st.List(ctx, name+"/", func(oi objstore.ObjectInfo) error { sizes[oi.Key] = oi.Size; return nil }); err != nil {
		return nil, mark(storageKind(err), fmt.Errorf("list backup %s: %w", name, err))
	}
	return sizes, nil
}

// checkPresent makes sure every object of the chain exists with its size,
// without reading them: restore refuses a damaged backup before it
// touches the target cluster (content is checked while downloading).
func checkPresent(ctx context.Context, st objstore.Store, chain []*link) error {
	for _, l := range chain {
		have, err := objectSizes(ctx, st, l.Name)
		if err != nil {
			return err
		}
		for _, s := range l.Sums {
			size, ok := have[s.Key]
			if !ok {
				return markf(ErrBackupDamaged, "backup %s is damaged: object %s is missing (run `br verify --name %s`)", l.Name, s.Key, l.Name)
			}
			if size != s.Size {
				return markf(ErrBackupDamaged, "backup %s is damaged: object %s has %d bytes, want %d (run `br verify --name %s`)", l.Name, s.Key, size, s.Size, l.Name)
			}
		}
	}
	return nil
}

// CleanupOptions configure `br cleanup`.
type CleanupOptions struct {
	Options
	Name     string
	Force    bool   // remove even when other backups depend on it (their chains break)
	MetaAddr string // also drop the backup's snapshot, and dangling ones, on that cluster
	// SnapshotOnly drops only the cluster snapshot Name (MetaAddr's
	// cluster); the stored backup is kept.
	SnapshotOnly bool
}

// CleanupResult says what a cleanup removed.
type CleanupResult struct {
	Name      string
	Objects   int      // objects removed from the storage
	Broken    []string // backups whose chain the removal broke (with Force)
	Snapshots []string // cluster snapshots dropped
}

// Cleanup removes a backup: its .meta first, so that an interrupted
// cleanup leaves an incomplete backup, never one that looks usable, then
// everything under its name, unfinished uploads included. It checks
// afterwards that nothing is left.
func Cleanup(ctx context.Context, o CleanupOptions) (*CleanupResult, error) {
	o.defaults()
	if err := checkName(o.Name); err != nil {
		return nil, err
	}
	res := &CleanupResult{Name: o.Name}
	if o.SnapshotOnly {
		if o.MetaAddr == "" {
			return nil, errors.New("--snapshot-only needs --meta: the cluster whose snapshot to drop")
		}
		dropped, err := dropSnapshots(ctx, o.MetaAddr, o.Name, nil, true, o.Log)
		res.Snapshots = dropped
		return res, err
	}
	st, err := openStorage(ctx, o.Storage, false)
	if err != nil {
		return nil, err
	}
	list, err := List(ctx, st)
	if err != nil {
		return nil, err
	}
	found := false
	complete := map[string]bool{}
	for _, b := range list {
		found = found || b.Name == o.Name
		complete[b.Name] = b.Complete
	}
	if !found {
		return nil, fmt.Errorf("no backup %s under %s (`br show` lists them)", o.Name, st.URI())
	}
	res.Broken = dependents(list, o.Name)
	if len(res.Broken) > 0 && !o.Force {
		return nil, fmt.Errorf("backups %s depend on %s (it is in their chain): remove them first, or pass --force to break their chains", strings.Join(res.Broken, ", "), o.Name)
	}
	if o.MetaAddr != "" {
		if res.Snapshots, err = dropSnapshots(ctx, o.MetaAddr, o.Name, complete, false, o.Log); err != nil {
			return nil, err
		}
	}
	if err := st.Delete(ctx, metaKey(o.Name)); err != nil {
		return nil, err
	}
	if res.Objects, err = st.DeleteDir(ctx, o.Name); err != nil {
		return nil, err
	}
	left := 0
	if err := st.List(ctx, o.Name+"/", func(objstore.ObjectInfo) error { left++; return nil }); err != nil {
		return nil, err
	}
	if left > 0 {
		return nil, fmt.Errorf("backup %s: %d objects are still there after the removal: run the cleanup again", o.Name, left)
	}
	o.Log.Info("backup removed", "name", o.Name, "objects", res.Objects, "broken", res.Broken)
	return res, nil
}

// dependents are the backups whose chain goes through name.
func dependents(list []BackupInfo, name string) []string {
	in := map[string]bool{name: true}
	var out []string
	for changed := true; changed; {
		changed = false
		for _, b := range list {
			if b.Base != "" && in[b.Base] && !in[b.Name] {
				in[b.Name] = true
				out = append(out, b.Name)
				changed = true
			}
		}
	}
	sort.Strings(out)
	return out
}

// dropSnapshots removes from the cluster the snapshot of the named backup
// and every dangling one: a snapshot whose backup is not complete under
// this root, left by a br that died. Snapshots younger than danglingAge
// are spared, since their backup may still be running.
func dropSnapshots(ctx context.Context, metaAddr, name string, complete map[string]bool, only bool, log interface {
	Info(string, ...any)
}) ([]string, error) {
	m, err := client.NewMetaClient(metaAddr, client.Options{})
	if err != nil {
		return nil, fmt.Errorf("connect to metad %s: %w", metaAddr, err)
	}
	defer m.Close()
	snaps, err := m.ListSnapshots(ctx)
	if err != nil {
		return nil, err
	}
	var drop []string
	for _, s := range snaps {
		sn := string(s.Name)
		taken, err := time.ParseInLocation("BACKUP_2006_01_02_15_04_05", sn, time.Local)
		dangling := !only && err == nil && !complete[sn] && time.Since(taken) > danglingAge
		if sn == name || dangling {
			drop = append(drop, sn)
		}
	}
	if only && len(drop) == 0 {
		return nil, fmt.Errorf("the cluster of metad %s has no snapshot %s", metaAddr, name)
	}
	if len(drop) == 0 {
		return nil, nil
	}
	log.Info("dropping snapshots", "names", drop)
	if err := m.DropSnapshot(ctx, drop); err != nil {
		return nil, err
	}
	return drop, nil
}

const danglingAge = 10 * time.Minute
