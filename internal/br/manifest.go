package br

import (
	"bufio"
	"bytes"
	"fmt"
	"hash/crc32"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
)

// The manifest, <NAME>/<NAME>.manifest, lists every object a restore of
// the backup reads, .meta included, with its size and CRC-32C; it is
// written just before .meta (the commit point). It checks itself: a
// header naming the backup and the object count, and a last line with the
// CRC-32C of everything before it, so that an empty, truncated or edited
// manifest is recognised as such.
//
//	nebula-br manifest 1
//	backup BACKUP_2026_11_29_07_08_20
//	objects 3
//	<crc32c> <size> <key>                 one per object, sorted by key
//	end <crc32c of the lines above>

const manifestMagic = "nebula-br manifest 1"

// encodeManifest writes the manifest of backup name.
func encodeManifest(name string, sums []fileSum) []byte {
	sorted := append([]fileSum(nil), sums...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Key < sorted[j].Key })
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\nbackup %s\nobjects %d\n", manifestMagic, name, len(sorted))
	for _, s := range sorted {
		fmt.Fprintf(&b, "%08x %d %s\n", s.CRC32C, s.Size, s.Key)
	}
	fmt.Fprintf(&b, "end %08x\n", crc32.Checksum(b.Bytes(), castagnoli))
	return b.Bytes()
}

// decodeManifest reads the manifest of backup name; any departure from
// the format is an error saying what is wrong.
func decodeManifest(name string, b []byte) ([]fileSum, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("empty")
	}
	body, trailer, ok := cutLastLine(b)
	if !ok || !strings.HasPrefix(trailer, "end ") {
		return nil, fmt.Errorf("truncated (no end line)")
	}
	want, err := strconv.ParseUint(strings.TrimPrefix(trailer, "end "), 16, 32)
	if err != nil {
		return nil, fmt.Errorf("bad end line %q", trailer)
	}
	if got := crc32.Checksum(body, castagnoli); uint32(want) != got {
		return nil, fmt.Errorf("its checksum is %08x, the end line says %08x: the manifest was changed or damaged", got, want)
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := func(n int) (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return sc.Text(), true
	}
	if l, _ := line(1); l != manifestMagic {
		return nil, fmt.Errorf("line 1 is %q, want %q: not a manifest of this format", l, manifestMagic)
	}
	if l, _ := line(2); l != "backup "+name {
		return nil, fmt.Errorf("line 2 is %q: it is not the manifest of %s", l, name)
	}
	l, _ := line(3)
	count, err := strconv.Atoi(strings.TrimPrefix(l, "objects "))
	if !strings.HasPrefix(l, "objects ") || err != nil || count < 0 {
		return nil, fmt.Errorf("line 3 is %q, want \"objects N\"", l)
	}
	out := make([]fileSum, 0, min(count, 1<<16))
	seen := map[string]bool{}
	for n := 4; sc.Scan(); n++ {
		f := strings.SplitN(sc.Text(), " ", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: want \"crc32c size key\"", n)
		}
		crc, err1 := strconv.ParseUint(f[0], 16, 32)
		size, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil || size < 0 {
			return nil, fmt.Errorf("line %d: bad checksum or size", n)
		}
		key := f[2]
		if !strings.HasPrefix(key, name+"/") || path.Clean(key) != key || strings.Contains(key, "/../") {
			return nil, fmt.Errorf("line %d: object %q is not under %s/", n, key, name)
		}
		if seen[key] {
			return nil, fmt.Errorf("line %d: object %s listed twice", n, key)
		}
		seen[key] = true
		out = append(out, fileSum{Key: key, Size: size, CRC32C: uint32(crc)})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) != count {
		return nil, fmt.Errorf("it lists %d objects, its header says %d", len(out), count)
	}
	return out, nil
}

// cutLastLine splits b before its last line (which must end in "\n").
func cutLastLine(b []byte) (body []byte, last string, ok bool) {
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return nil, "", false
	}
	i := bytes.LastIndexByte(b[:len(b)-1], '\n')
	return b[:i+1], string(b[i+1 : len(b)-1]), true
}

// incomplete lists what .meta says link l needs and its objects (its
// manifest, or what is stored for a backup without one) do not have: the
// meta files, the .meta itself, the checkpoint data of every host (and,
// upstream, of every data path of it) of every space it holds in full,
// and the WAL of every part that advanced since prev (the link before it
// in its chain; nil for a full backup).
func (l *link) incomplete(prev *link) []string {
	have := map[string]bool{}
	under := map[string]bool{} // every directory prefix that holds an object
	for _, s := range l.Sums {
		have[s.Key] = true
		for d := path.Dir(s.Key); d != "." && d != "/" && !under[d]; d = path.Dir(d) {
			under[d] = true
		}
	}
	notIn := "is not in the manifest"
	if !l.Layout.Checksums() {
		notIn = "is not stored"
	}
	var out []string
	if !have[metaKey(l.Name)] {
		out = append(out, fmt.Sprintf("%s %s", metaKey(l.Name), notIn))
	}
	if len(l.Meta.MetaFiles) == 0 {
		out = append(out, ".meta lists no meta files")
	}
	for _, f := range l.Meta.MetaFiles {
		if k := path.Join(metaDirKey(l.Name), path.Base(string(f))); !have[k] {
			out = append(out, fmt.Sprintf("meta file %s %s", k, notIn))
		}
	}
	for _, spaceID := range sortedSpaceIDs(l.Meta.SpaceBackups) {
		sb := l.Meta.SpaceBackups[spaceID]
		full := prev == nil || prev.Meta.SpaceBackups[spaceID] == nil
		for _, hb := range sb.HostBackups {
			if full && l.perPart(spaceID) {
				for _, partID := range partsOf(hb) {
					if k := path.Join(partKey(l.Name, spaceID, partID), "applied"); !have[k] {
						out = append(out, fmt.Sprintf("no data of part %d of space %d (%s)", partID, spaceID, k))
					}
				}
				continue
			}
			if full {
				for i := range dataPaths(l.Layout, hb) {
					if k := l.Layout.dataKey(l.Name, spaceID, hb.Host, i); !under[k] {
						out = append(out, fmt.Sprintf("no data of space %d on %s (%s/...)", spaceID, addr(hb.Host), k))
					}
				}
				continue
			}
			for _, cp := range hb.Checkpoints {
				for _, partID := range sortedParts(cp.Parts) {
					after, ok := baseLogID(prev.Meta, spaceID, hb.Host, partID, true)
					if li := cp.Parts[partID]; ok && li != nil && int64(li.LogID) > after {
						if l.walOf(spaceID, partID, hb.Host) == "" {
							out = append(out, fmt.Sprintf("part %d of space %d on %s advanced (log %d to %d) but no WAL of it is listed (%s/... or %s/...)",
								partID, spaceID, addr(hb.Host), after, li.LogID, partWALKey(l.Name, spaceID, partID), l.Layout.walKey(l.Name, spaceID, hb.Host, 0, partID)))
						}
					}
				}
			}
		}
	}
	return out
}

// dataPaths is how many checkpoint directories a host's backup of a space
// has in the layout: upstream's keeps one per data path (one checkpoint
// each), ours one per host.
func dataPaths(l Layout, hb *meta.HostBackupInfo) int {
	if l == LayoutUpstream && len(hb.Checkpoints) > 1 {
		return len(hb.Checkpoints)
	}
	return 1
}

func sortedParts[V any](m map[nebula.PartitionID]V) []nebula.PartitionID {
	ids := make([]nebula.PartitionID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}
