package br

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

// encodeMeta serialises a BackupMeta as NebulaGraph's br does: thrift
// binary protocol.
func encodeMeta(bm *meta.BackupMeta) ([]byte, error) {
	ts := thrift.NewTSerializer()
	ts.Protocol = thrift.NewTBinaryProtocolConf(ts.Transport, &thrift.TConfiguration{})
	return ts.Write(context.Background(), bm)
}

func decodeMeta(b []byte) (*meta.BackupMeta, error) {
	td := thrift.NewTDeserializer()
	td.Protocol = thrift.NewTBinaryProtocolConf(td.Transport, &thrift.TConfiguration{})
	bm := meta.NewBackupMeta()
	if err := td.Read(context.Background(), bm, b); err != nil {
		return nil, err
	}
	return bm, nil
}

// readMeta loads <name>/<name>.meta; a missing one means the backup is
// unknown or incomplete.
func readMeta(ctx context.Context, st objstore.Store, name string) (*meta.BackupMeta, error) {
	b, err := readAll(ctx, st, metaKey(name))
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, fmt.Errorf("%w: backup %s not found under %s, or incomplete (no %s.meta): see `br show --storage %s`", ErrBackupNotFound, name, st.URI(), name, st.URI())
	}
	if err != nil {
		return nil, mark(storageKind(err), fmt.Errorf("backup %s: read %s.meta: %w", name, name, err))
	}
	bm, err := decodeMeta(b)
	if err != nil {
		return nil, markf(ErrBackupDamaged, "backup %s: unreadable %s.meta: %w", name, name, err)
	}
	return bm, nil
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

// The .checksums file: one line per object, "crc32c size key", sorted.
func encodeChecksums(sums []fileSum) []byte {
	sort.Slice(sums, func(i, j int) bool { return sums[i].Key < sums[j].Key })
	var b bytes.Buffer
	for _, s := range sums {
		fmt.Fprintf(&b, "%08x %d %s\n", s.CRC32C, s.Size, s.Key)
	}
	return b.Bytes()
}

func decodeChecksums(b []byte) ([]fileSum, error) {
	var out []fileSum
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		f := strings.SplitN(sc.Text(), " ", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: want \"crc32c size key\"", n)
		}
		crc, err1 := strconv.ParseUint(f[0], 16, 32)
		size, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("line %d: bad checksum or size", n)
		}
		out = append(out, fileSum{Key: f[2], Size: size, CRC32C: uint32(crc)})
	}
	return out, sc.Err()
}

func readChecksums(ctx context.Context, st objstore.Store, name string) ([]fileSum, error) {
	b, err := readAll(ctx, st, checksumsKey(name))
	if err != nil {
		return nil, mark(storageKind(err), fmt.Errorf("backup %s: checksums: %w", name, err))
	}
	sums, err := decodeChecksums(b)
	if err != nil {
		return nil, markf(ErrBackupDamaged, "backup %s: %s.checksums: %w", name, name, err)
	}
	return sums, nil
}

// link is one backup of a chain with its objects.
type link struct {
	Name string
	Meta *meta.BackupMeta
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

// loadChain follows base_backup_name from name down to its full backup
// and returns the chain oldest first. Every link must be complete.
func loadChain(ctx context.Context, st objstore.Store, name string) ([]*link, error) {
	var chain []*link
	seen := map[string]bool{}
	for cur := name; ; {
		if seen[cur] {
			return nil, markf(ErrBackupDamaged, "backup %s: base chain loops at %s", name, cur)
		}
		seen[cur] = true
		bm, err := readMeta(ctx, st, cur)
		if err != nil {
			if cur != name {
				return nil, fmt.Errorf("backup %s needs its base %s: %w", name, cur, err)
			}
			return nil, err
		}
		sums, err := readChecksums(ctx, st, cur)
		if err != nil {
			return nil, err
		}
		if len(chain) > 0 && chain[0].Meta.ClusterID != bm.ClusterID {
			return nil, markf(ErrBackupDamaged, "backup %s: its base %s is from another cluster (%d, not %d)", name, cur, bm.ClusterID, chain[0].Meta.ClusterID)
		}
		chain = append([]*link{{Name: cur, Meta: bm, Sums: sums}}, chain...)
		if bm.Full {
			return chain, nil
		}
		cur = string(bm.BaseBackupName)
		if cur == "" {
			return nil, markf(ErrBackupDamaged, "backup %s is incremental but names no base", name)
		}
	}
}
