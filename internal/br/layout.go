// Package br is the backup and restore engine shared by the br command and
// the operator: full and incremental backups of a NebulaGraph cluster to
// external storage through the agents, restores of a backup chain into
// another cluster, and listing, verifying and removing backups.
//
// External storage layout of one backup written by this br (design.md
// section 5, with data grouped per storage host because a storaged
// checkpoints a whole space):
//
//	<NAME>/meta/...                                  metad's export
//	<NAME>/data/<spaceId>/<host>/data/...            checkpoint of the space on that host
//	<NAME>/data/<spaceId>/<host>/wal/<partId>/...    WAL since the base (incremental)
//
// or, when every storage host's engine exports its checkpoint per part
// (nebula-lite), each part on its own, so that it restores on any host:
//
//	<NAME>/data/<spaceId>/<partId>/data.sst          the part's data at the checkpoint, rewritten (none if empty)
//	<NAME>/data/<spaceId>/<partId>/table-<n>.sst     the checkpoint's tables holding only the part's keys, as stored
//	<NAME>/data/<spaceId>/<partId>/applied           its applied log id and term
//	<NAME>/data/<spaceId>/<partId>/wal/...           WAL since the base (incremental)
//
// and always:
//
//	<NAME>/<NAME>.manifest                           size and CRC-32C of every object, .meta included (manifest.go)
//	<NAME>/<NAME>.meta                               thrift BackupMeta, written last: the commit point
//
// Backups written by the community's nebula-br v3.6.0 (full only) are
// read too, in their own layout: see LayoutUpstream.
package br

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
)

var nameRE = regexp.MustCompile(`^BACKUP_\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}$`)

// ValidName reports whether s is a backup name (BACKUP_YYYY_MM_DD_HH_MM_SS).
func ValidName(s string) bool { return nameRE.MatchString(s) }

func checkName(s string) error {
	if !ValidName(s) {
		return fmt.Errorf("%q is not a backup name: names look like BACKUP_2023_02_12_10_04_16 (see `br show`)", s)
	}
	return nil
}

// Layout is how the objects of one backup are keyed. Both layouts keep,
// for every (space, storage host) pair, a directory holding the
// checkpoint's data/ and, where there is any, wal/<partId>/ (spaceDirKey);
// they differ in where that directory is and in whether a manifest
// exists. Every key of a backup is made here.
type Layout uint8

const (
	// LayoutNative is this br's layout (the package comment): a manifest
	// with every object's size and CRC-32C, data keyed by space first.
	LayoutNative Layout = iota
	// LayoutUpstream is the layout of the community's nebula-br v3.6.0,
	// full backups only:
	//
	//	<NAME>/meta/<basename>                               metad's export, as a directory upload
	//	<NAME>/data/<host:port>/data<i>/<spaceId>/data/...   the checkpoint of the space in the host's i-th data path,
	//	<NAME>/data/<host:port>/data<i>/<spaceId>/wal/<partId>/...   uploaded as a directory
	//	<NAME>/<NAME>.meta                                   framed BackupMeta, meta_files cut to basenames
	//
	// There is no manifest: objects are known from the listing (sizes),
	// their checksums are not known at all.
	LayoutUpstream
)

func (l Layout) String() string {
	if l == LayoutUpstream {
		return "nebula-br v3.6.0"
	}
	return "native"
}

// Checksums reports whether the layout records each object's CRC-32C.
func (l Layout) Checksums() bool { return l == LayoutNative }

// hostKey names a storage host in keys: native "127.0.0.10:9779" ->
// "127.0.0.10_9779"; upstream keeps the colon.
func (l Layout) hostKey(h *nebula.HostAddr) string {
	if l == LayoutUpstream {
		return addr(h)
	}
	return strings.NewReplacer(":", "_", "/", "_").Replace(fmt.Sprintf("%s_%d", h.Host, h.Port))
}

// spaceDirKey is where the directory of space's checkpoint on host h (in
// its data path i: upstream only, native keeps one per host) is stored.
func (l Layout) spaceDirKey(name string, space nebula.GraphSpaceID, h *nebula.HostAddr, i int) string {
	if l == LayoutUpstream {
		return path.Join(name, "data", l.hostKey(h), fmt.Sprintf("data%d", i), fmt.Sprint(space))
	}
	return path.Join(name, "data", fmt.Sprint(space), l.hostKey(h))
}

// dataKey is where the checkpoint's data (the engine's files) is stored.
func (l Layout) dataKey(name string, space nebula.GraphSpaceID, h *nebula.HostAddr, i int) string {
	return path.Join(l.spaceDirKey(name, space, h, i), "data")
}

// walKey is where a part's WAL is stored: since the base in a native
// incremental backup, the checkpoint's own in an upstream one.
func (l Layout) walKey(name string, space nebula.GraphSpaceID, h *nebula.HostAddr, i int, part nebula.PartitionID) string {
	return path.Join(l.spaceDirKey(name, space, h, i), "wal", fmt.Sprint(part))
}

// Keys both layouts share.
func metaKey(name string) string     { return path.Join(name, name+".meta") }
func metaDirKey(name string) string  { return path.Join(name, "meta") }
func manifestKey(name string) string { return path.Join(name, name+".manifest") }

// Native keys (what backup.go writes).
func dataKey(name string, space nebula.GraphSpaceID, h *nebula.HostAddr) string {
	return LayoutNative.dataKey(name, space, h, 0)
}
func walKey(name string, space nebula.GraphSpaceID, h *nebula.HostAddr, part nebula.PartitionID) string {
	return LayoutNative.walKey(name, space, h, 0, part)
}

// Per-part keys (a host key always holds "_", a part id never).
func partKey(name string, space nebula.GraphSpaceID, part nebula.PartitionID) string {
	return path.Join(name, "data", fmt.Sprint(space), fmt.Sprint(part))
}
func partWALKey(name string, space nebula.GraphSpaceID, part nebula.PartitionID) string {
	return path.Join(partKey(name, space, part), "wal")
}

// detectLayout tells the layout of backup name from its stored keys
// (under name/): a manifest is ours; otherwise the first component below
// name/data/ is a space id in ours and a host:port in upstream's. When
// the keys say nothing (no manifest, no data), the .meta decides, if it
// was readable (bm not nil): upstream's lists meta files by basename,
// ours by the path metad wrote them to. A layout that cannot be told, or
// keys of both, is an error.
func detectLayout(name string, keys []string, bm *meta.BackupMeta) (Layout, error) {
	var spaceDirs, hostDirs []string
	for _, k := range keys {
		if k == manifestKey(name) {
			return LayoutNative, nil
		}
		rest, ok := strings.CutPrefix(k, name+"/data/")
		if !ok {
			continue
		}
		first, _, _ := strings.Cut(rest, "/")
		switch {
		case isSpaceID(first):
			spaceDirs = append(spaceDirs, first)
		case isHostPort(first):
			hostDirs = append(hostDirs, first)
		}
	}
	switch {
	case len(spaceDirs) > 0 && len(hostDirs) > 0:
		return LayoutNative, fmt.Errorf("its data is keyed both by space (%s/data/%s/) and by host (%s/data/%s/), and it has no manifest: neither this br's layout nor nebula-br v3.6.0's",
			name, spaceDirs[0], name, hostDirs[0])
	case len(hostDirs) > 0:
		return LayoutUpstream, nil
	case len(spaceDirs) > 0:
		return LayoutNative, nil
	case bm != nil && len(bm.MetaFiles) > 0 && allBasenames(bm.MetaFiles):
		return LayoutUpstream, nil
	}
	return LayoutNative, nil
}

func isSpaceID(s string) bool {
	n, err := strconv.ParseInt(s, 10, 32)
	return err == nil && n >= 0 && strconv.FormatInt(n, 10) == s
}

// isHostPort: "host:port" as upstream's br writes an address.
func isHostPort(s string) bool {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return false
	}
	p, err := strconv.ParseUint(s[i+1:], 10, 16)
	return err == nil && p > 0
}

func allBasenames(files [][]byte) bool {
	for _, f := range files {
		if strings.ContainsRune(string(f), '/') {
			return false
		}
	}
	return true
}

func addr(h *nebula.HostAddr) string { return fmt.Sprintf("%s:%d", h.Host, h.Port) }

func sortHosts(hs []*nebula.HostAddr) {
	sort.Slice(hs, func(i, j int) bool { return addr(hs[i]) < addr(hs[j]) })
}
