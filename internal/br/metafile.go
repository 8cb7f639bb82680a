package br

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

// encodeMeta serialises a BackupMeta as NebulaGraph's br writes it: a 4-byte
// big-endian length, then the thrift binary-protocol struct.
func encodeMeta(bm *meta.BackupMeta) ([]byte, error) {
	ts := thrift.NewTSerializer()
	ts.Protocol = thrift.NewTBinaryProtocolConf(ts.Transport, &thrift.TConfiguration{})
	body, err := ts.Write(context.Background(), bm)
	if err != nil {
		return nil, err
	}
	return append(binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(body)), uint32(len(body))), body...), nil
}

// decodeMeta reads a .meta of this br: framed as NebulaGraph's br writes
// it, or, as this project's first versions wrote it, the bare struct.
func decodeMeta(b []byte) (*meta.BackupMeta, error) {
	if len(b) >= 4 && int(binary.BigEndian.Uint32(b)) == len(b)-4 {
		return decodeMetaStruct(b[4:])
	}
	bm, err := decodeMetaStruct(b)
	if err != nil {
		return nil, fmt.Errorf("neither a framed BackupMeta (a 4-byte length, then the struct) nor a bare one: %w", err)
	}
	return bm, nil
}

// decodeFramedMeta reads a .meta that must be framed (upstream's br has
// only ever written it so): a length that does not match is a truncated
// or foreign file.
func decodeFramedMeta(b []byte) (*meta.BackupMeta, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%d bytes: too short for a framed BackupMeta (a 4-byte length, then the struct)", len(b))
	}
	if n := binary.BigEndian.Uint32(b); int64(n) != int64(len(b)-4) {
		return nil, fmt.Errorf("its frame says %d bytes follow, %d do: truncated, or not a framed BackupMeta", n, len(b)-4)
	}
	return decodeMetaStruct(b[4:])
}

func decodeMetaStruct(b []byte) (*meta.BackupMeta, error) {
	td := thrift.NewTDeserializer()
	// No string or container can be longer than the input: a damaged
	// length must fail at once, not allocate gigabytes.
	td.Protocol = thrift.NewTBinaryProtocolConf(td.Transport, &thrift.TConfiguration{MaxMessageSize: int32(min(len(b)+1, 1<<30))})
	bm := meta.NewBackupMeta()
	if err := td.Read(context.Background(), bm, b); err != nil {
		return nil, err
	}
	if len(bm.BackupName) == 0 {
		return nil, errors.New("it names no backup")
	}
	return bm, nil
}

// checkMeta makes sure a decoded .meta is backup name's: a struct that
// happens to decode but is not what metad wrote must not pass for a
// backup (a row of defaults: no time, no spaces).
func checkMeta(name string, bm *meta.BackupMeta) error {
	if string(bm.BackupName) != name {
		return markf(ErrBackupDamaged, "backup %s is damaged: %s names backup %q", name, metaKey(name), bm.BackupName)
	}
	if bm.CreateTime <= 0 {
		return markf(ErrBackupDamaged, "backup %s is damaged: %s has no creation time (%d): not a .meta metad wrote", name, metaKey(name), bm.CreateTime)
	}
	return nil
}

func readAll(ctx context.Context, st objstore.Store, key string) ([]byte, error) {
	r, err := st.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// fileSum is one object of a backup.
type fileSum struct {
	Key    string // relative to the storage root
	Size   int64
	CRC32C uint32
}

// link is one backup of a chain with its objects.
type link struct {
	Name   string
	Layout Layout
	Meta   *meta.BackupMeta
	// Sums are the backup's objects: from its manifest (LayoutNative), or
	// from the listing, sizes only (LayoutUpstream: CRC32C is not known).
	Sums []fileSum
}

// under returns the objects below a key prefix, keys made relative to it.
func (l *link) under(prefix string) []fileSum {
	var out []fileSum
	for _, s := range l.Sums {
		if rel, ok := strings.CutPrefix(s.Key, prefix+"/"); ok {
			out = append(out, fileSum{Key: rel, Size: s.Size, CRC32C: s.CRC32C})
		}
	}
	return out
}

// perPart reports whether the link keeps space per part: its data is
// keyed <NAME>/data/<spaceId>/<partId>/.
func (l *link) perPart(space nebula.GraphSpaceID) bool {
	if l.Layout != LayoutNative {
		return false
	}
	prefix := path.Join(l.Name, "data", fmt.Sprint(space)) + "/"
	for _, s := range l.Sums {
		if rest, ok := strings.CutPrefix(s.Key, prefix); ok {
			first, _, _ := strings.Cut(rest, "/")
			return isSpaceID(first) // a part id; a host key is ip_port
		}
	}
	return false
}

// walOf is where the link keeps the WAL of a part of space, per part or
// under a host whose checkpoint lists it (host, if not nil: a part's
// replicas each have their own); "" if it has none.
func (l *link) walOf(space nebula.GraphSpaceID, part nebula.PartitionID, host *nebula.HostAddr) string {
	if k := partWALKey(l.Name, space, part); len(l.under(k)) > 0 {
		return k
	}
	if sb := l.Meta.SpaceBackups[space]; sb != nil {
		for _, hb := range sb.HostBackups {
			if host != nil && addr(hb.Host) != addr(host) {
				continue
			}
			for _, cp := range hb.Checkpoints {
				if _, ok := cp.Parts[part]; ok {
					if k := l.Layout.walKey(l.Name, space, hb.Host, 0, part); len(l.under(k)) > 0 {
						return k
					}
				}
			}
		}
	}
	return ""
}

// readLink reads a backup's .meta and tells its layout. A backup of ours
// has a manifest, and .meta must have the size and CRC-32C it records.
// One without is upstream's if what is stored says so (detectLayout):
// its objects are then those listed, and its .meta must be framed.
func readLink(ctx context.Context, st objstore.Store, name string) (*link, error) {
	b, err := readAll(ctx, st, metaKey(name))
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, fmt.Errorf("%w: backup %s not found under %s, or incomplete (no %s.meta): see `br show --storage %s`", ErrBackupNotFound, name, st.URI(), name, st.URI())
	}
	if err != nil {
		return nil, mark(storageKind(err), fmt.Errorf("backup %s: read %s.meta: %w", name, name, err))
	}
	mb, merr := readAll(ctx, st, manifestKey(name))
	if merr == nil {
		return nativeLink(name, b, mb)
	}
	if !errors.Is(merr, objstore.ErrNotFound) {
		return nil, mark(storageKind(merr), fmt.Errorf("backup %s: read its manifest %s: %w", name, manifestKey(name), merr))
	}
	objs, err := objectSizes(ctx, st, name)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(objs))
	for k := range objs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	bm, derr := decodeMeta(b) // only a clue here: nil if unreadable
	layout, err := detectLayout(name, keys, bm)
	if err != nil {
		return nil, markf(ErrBackupDamaged, "backup %s is damaged: %w", name, err)
	}
	if layout == LayoutNative {
		if derr == nil {
			derr = checkMeta(name, bm)
		}
		if derr != nil {
			return nil, markf(ErrBackupDamaged, "backup %s is damaged: no manifest %s, and %s: %v", name, manifestKey(name), metaKey(name), derr)
		}
		return nil, markf(ErrBackupDamaged, "backup %s is damaged: read its manifest %s: %w", name, manifestKey(name), merr)
	}
	if bm, err = decodeFramedMeta(b); err != nil {
		return nil, markf(ErrBackupDamaged, "backup %s is damaged: unreadable %s (%s's layout, no manifest): %w", name, metaKey(name), layout, err)
	}
	if err := checkMeta(name, bm); err != nil {
		return nil, err
	}
	if !bm.Full {
		return nil, markf(ErrBackupDamaged, "backup %s: %s says it is incremental, but it is in %s's layout, which holds full backups only: not supported",
			name, metaKey(name), layout)
	}
	l := &link{Name: name, Layout: layout, Meta: bm}
	for _, k := range keys {
		l.Sums = append(l.Sums, fileSum{Key: k, Size: objs[k]})
	}
	return l, nil
}

// nativeLink checks a backup of ours, .meta against its manifest.
func nativeLink(name string, b, mb []byte) (*link, error) {
	sums, err := decodeManifest(name, mb)
	if err != nil {
		return nil, markf(ErrBackupDamaged, "backup %s is damaged: its manifest %s: %w", name, manifestKey(name), err)
	}
	var entry *fileSum
	for i := range sums {
		if sums[i].Key == metaKey(name) {
			entry = &sums[i]
		}
	}
	if entry == nil {
		return nil, markf(ErrBackupDamaged, "backup %s is damaged: its manifest does not list %s", name, metaKey(name))
	}
	if got := crc32.Checksum(b, castagnoli); int64(len(b)) != entry.Size || got != entry.CRC32C {
		return nil, markf(ErrBackupDamaged, "backup %s is damaged: %s has %d bytes with crc32c %08x, its manifest says %d bytes with %08x",
			name, metaKey(name), len(b), got, entry.Size, entry.CRC32C)
	}
	bm, err := decodeMeta(b)
	if err != nil {
		return nil, markf(ErrBackupDamaged, "backup %s is damaged: unreadable %s: %w", name, metaKey(name), err)
	}
	if err := checkMeta(name, bm); err != nil {
		return nil, err
	}
	return &link{Name: name, Layout: LayoutNative, Meta: bm, Sums: sums}, nil
}

// chainError is a failure of loadChain at one link of the chain.
type chainError struct {
	Link string // the backup at fault
	err  error
}

func (e *chainError) Error() string { return e.err.Error() }
func (e *chainError) Unwrap() error { return e.err }

// loadChain follows base_backup_name from name down to its full backup
// and returns the chain oldest first. Every link must be complete and
// intact (manifest, .meta, completeness against its base); a failure is
// a *chainError naming the link at fault.
func loadChain(ctx context.Context, st objstore.Store, name string) ([]*link, error) {
	return chainOf(name, func(n string) (*link, error) { return readLink(ctx, st, n) })
}

// linkReader reads one backup's .meta and objects (readLink).
type linkReader func(name string) (*link, error)

// cachedLinks is a linkReader that reads each backup once, for listing
// many backups whose chains share links.
func cachedLinks(ctx context.Context, st objstore.Store) linkReader {
	type read struct {
		l   *link
		err error
	}
	seen := map[string]read{}
	return func(name string) (*link, error) {
		r, ok := seen[name]
		if !ok {
			r.l, r.err = readLink(ctx, st, name)
			seen[name] = r
		}
		return r.l, r.err
	}
}

// chainOf is loadChain over any linkReader.
func chainOf(name string, readLink linkReader) ([]*link, error) {
	var chain []*link
	seen := map[string]bool{}
	at := func(link string, err error) error { return &chainError{Link: link, err: err} }
	for cur := name; ; {
		if seen[cur] {
			return nil, at(cur, markf(ErrBackupDamaged, "backup %s: base chain loops at %s", name, cur))
		}
		seen[cur] = true
		l, err := readLink(cur)
		if err != nil {
			if cur != name && errors.Is(err, ErrBackupNotFound) {
				return nil, at(cur, markf(ErrBackupDamaged, "backup %s has a broken chain: it needs its base %s, which is missing or incomplete (no %s.meta)", name, cur, cur))
			}
			if cur != name {
				return nil, at(cur, fmt.Errorf("backup %s needs its base %s: %w", name, cur, err))
			}
			return nil, at(cur, err)
		}
		bm := l.Meta
		if len(chain) > 0 && chain[0].Meta.ClusterID != bm.ClusterID {
			return nil, at(cur, markf(ErrBackupDamaged, "backup %s: its base %s is from another cluster (%d, not %d)", name, cur, bm.ClusterID, chain[0].Meta.ClusterID))
		}
		chain = append([]*link{l}, chain...)
		if bm.Full {
			for i, l := range chain {
				var prev *link
				if i > 0 {
					prev = chain[i-1]
				}
				if missing := l.incomplete(prev); len(missing) > 0 {
					return nil, at(l.Name, markf(ErrBackupDamaged, "backup %s is damaged: %s (run `br verify --name %s`)", l.Name, strings.Join(missing, "; "), l.Name))
				}
			}
			return chain, nil
		}
		cur = string(bm.BaseBackupName)
		if cur == "" {
			return nil, at(name, markf(ErrBackupDamaged, "backup %s is incremental but names no base", name))
		}
	}
}
