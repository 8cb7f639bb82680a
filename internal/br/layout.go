// Package br is the backup and restore engine shared by the br command and
// the operator: full and incremental backups of a NebulaGraph cluster to
// external storage through the agents, restores of a backup chain into
// another cluster, and listing, verifying and removing backups.
//
// External storage layout of one backup (design.md section 5, with data
// grouped per storage host because a storaged checkpoints a whole space):
//
//	<NAME>/meta/...                                  metad's export
//	<NAME>/data/<spaceId>/<host>/data/...            checkpoint of the space on that host
//	<NAME>/data/<spaceId>/<host>/wal/<partId>/...    WAL since the base (incremental)
//	<NAME>/<NAME>.manifest                           size and CRC-32C of every object, .meta included (manifest.go)
//	<NAME>/<NAME>.meta                               thrift BackupMeta, written last: the commit point
package br

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
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

// hostKey names a storage host in keys: "127.0.0.10:9779" -> "127.0.0.10_9779".
func hostKey(h *nebula.HostAddr) string {
	return strings.NewReplacer(":", "_", "/", "_").Replace(fmt.Sprintf("%s_%d", h.Host, h.Port))
}

func metaKey(name string) string    { return path.Join(name, name+".meta") }
func metaDirKey(name string) string { return path.Join(name, "meta") }

func dataKey(name string, space nebula.GraphSpaceID, h *nebula.HostAddr) string {
	return path.Join(name, "data", fmt.Sprint(space), hostKey(h), "data")
}

func walKey(name string, space nebula.GraphSpaceID, h *nebula.HostAddr, part nebula.PartitionID) string {
	return path.Join(name, "data", fmt.Sprint(space), hostKey(h), "wal", fmt.Sprint(part))
}

func addr(h *nebula.HostAddr) string { return fmt.Sprintf("%s:%d", h.Host, h.Port) }

func sortHosts(hs []*nebula.HostAddr) {
	sort.Slice(hs, func(i, j int) bool { return addr(hs[i]) < addr(hs[j]) })
}
