package br

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

// BackupInfo is one backup under a storage root, as `br show` lists it.
type BackupInfo struct {
	Name       string
	Complete   bool // its .meta exists and reads
	Full       bool
	Base       string
	Spaces     []string
	CreateTime time.Time
	ClusterID  int64
	Size       int64
	Objects    int
}

// List returns every backup under the root, oldest first, complete or not.
func List(ctx context.Context, st objstore.Store) ([]BackupInfo, error) {
	byName := map[string]*BackupInfo{}
	err := st.List(ctx, "", func(o objstore.ObjectInfo) error {
		name, _, _ := strings.Cut(o.Key, "/")
		if !ValidName(name) {
			return nil
		}
		b := byName[name]
		if b == nil {
			b = &BackupInfo{Name: name}
			byName[name] = b
		}
		b.Size += o.Size
		b.Objects++
		if o.Key == metaKey(name) {
			b.Complete = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", st.URI(), err)
	}
	var out []BackupInfo
	for _, b := range byName {
		if b.Complete {
			bm, err := readMeta(ctx, st, b.Name)
			if err != nil {
				b.Complete = false
			} else {
				b.Full, b.Base, b.ClusterID = bm.Full, string(bm.BaseBackupName), int64(bm.ClusterID)
				b.CreateTime = time.UnixMilli(bm.CreateTime)
				for _, id := range sortedSpaceIDs(bm.SpaceBackups) {
					b.Spaces = append(b.Spaces, string(bm.SpaceBackups[id].Space.SpaceName))
				}
			}
		}
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Show lists the backups of a root.
func Show(ctx context.Context, o Options) ([]BackupInfo, error) {
	o.defaults()
	st, err := openStorage(ctx, o.Storage)
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
	Missing []string
	Corrupt []string // "key: why"
}

// OK is true when nothing is missing or corrupt.
func (r *VerifyReport) OK() bool { return len(r.Missing) == 0 && len(r.Corrupt) == 0 }

// Verify re-reads every object of a backup and of its whole chain and
// checks sizes and CRC-32C against the recorded checksums.
func Verify(ctx context.Context, o Options, name string) (*VerifyReport, error) {
	o.defaults()
	if err := checkName(name); err != nil {
		return nil, err
	}
	st, err := openStorage(ctx, o.Storage)
	if err != nil {
		return nil, err
	}
	chain, err := loadChain(ctx, st, name)
	if err != nil {
		return nil, err
	}
	r := &VerifyReport{}
	for _, l := range chain {
		r.Chain = append(r.Chain, l.Name)
		for _, s := range l.Sums {
			r.Objects++
			size, crc, err := checksum(ctx, st, s.Key)
			switch {
			case errors.Is(err, objstore.ErrNotFound):
				r.Missing = append(r.Missing, s.Key)
			case err != nil:
				return r, fmt.Errorf("read %s: %w", s.Key, err)
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

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(ctx context.Context, st objstore.Store, key string) (int64, uint32, error) {
	rc, err := st.Get(ctx, key)
	if err != nil {
		return 0, 0, err
	}
	defer rc.Close()
	h := crc32.New(castagnoli)
	n, err := io.Copy(h, rc)
	return n, h.Sum32(), err
}

// checkPresent makes sure every object of the chain exists with its size,
// without reading them: restore refuses a damaged backup before it
// touches the target cluster (content is checked while downloading).
func checkPresent(ctx context.Context, st objstore.Store, chain []*link) error {
	for _, l := range chain {
		have := map[string]int64{}
		err := st.List(ctx, l.Name+"/", func(o objstore.ObjectInfo) error {
			have[o.Key] = o.Size
			return nil
		})
		if err != nil {
			return mark(storageKind(err), fmt.Errorf("list backup %s: %w", l.Name, err))
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
	Force    bool   // remove even when other backups name it as base
	MetaAddr string // also drop the snapshot on the cluster
}

// Cleanup removes a backup. The .meta goes first, so that an interrupted
// cleanup leaves an incomplete backup, never one that looks usable.
func Cleanup(ctx context.Context, o CleanupOptions) error {
	o.defaults()
	if err := checkName(o.Name); err != nil {
		return err
	}
	st, err := openStorage(ctx, o.Storage)
	if err != nil {
		return err
	}
	list, err := List(ctx, st)
	if err != nil {
		return err
	}
	found := false
	for _, b := range list {
		if b.Name == o.Name {
			found = true
		}
		if b.Complete && b.Base == o.Name && !o.Force {
			return fmt.Errorf("backup %s is the base of %s: remove that one first, or pass --force to break the chain", o.Name, b.Name)
		}
	}
	if o.MetaAddr != "" {
		complete := map[string]bool{}
		for _, b := range list {
			complete[b.Name] = b.Complete
		}
		if err := dropSnapshots(ctx, o.MetaAddr, o.Name, complete, o.Log); err != nil {
			return err
		}
	}
	if !found {
		if o.MetaAddr != "" {
			return nil
		}
		return fmt.Errorf("no backup %s under %s", o.Name, st.URI())
	}
	if err := st.Delete(ctx, metaKey(o.Name)); err != nil {
		return err
	}
	var keys []string
	if err := st.List(ctx, o.Name+"/", func(oi objstore.ObjectInfo) error {
		keys = append(keys, oi.Key)
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		if err := st.Delete(ctx, k); err != nil {
			return fmt.Errorf("delete %s: %w", k, err)
		}
	}
	o.Log.Info("backup removed", "name", o.Name, "objects", len(keys))
	return nil
}

// dropSnapshots removes from the cluster the snapshot of the named backup
// and every dangling one: a snapshot whose backup is not complete under
// this root, left by a br that died. Snapshots younger than danglingAge
// are spared, since their backup may still be running.
func dropSnapshots(ctx context.Context, metaAddr, name string, complete map[string]bool, log interface {
	Info(string, ...any)
}) error {
	m, err := client.NewMetaClient(metaAddr, client.Options{})
	if err != nil {
		return fmt.Errorf("connect to metad %s: %w", metaAddr, err)
	}
	defer m.Close()
	snaps, err := m.ListSnapshots(ctx)
	if err != nil {
		return err
	}
	var drop []string
	for _, s := range snaps {
		sn := string(s.Name)
		taken, err := time.ParseInLocation("BACKUP_2006_01_02_15_04_05", sn, time.Local)
		dangling := err == nil && !complete[sn] && time.Since(taken) > danglingAge
		if sn == name || dangling {
			drop = append(drop, sn)
		}
	}
	if len(drop) == 0 {
		return nil
	}
	log.Info("dropping snapshots", "names", drop)
	return m.DropSnapshot(ctx, drop)
}

const danglingAge = 10 * time.Minute
