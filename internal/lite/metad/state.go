package metad

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cockroachdb/pebble"
)

// Addr is a service address, host being an IP or a DNS name.
type Addr struct {
	Host string `json:"host"`
	Port int32  `json:"port"`
}

func (a Addr) String() string { return fmt.Sprintf("%s:%d", a.Host, a.Port) }

// Column is one property of a tag or edge type.
type Column struct {
	Name     string `json:"name"`
	Type     int32  `json:"type"` // nebula PropertyType
	Len      int16  `json:"len,omitempty"`
	Nullable bool   `json:"nullable"`
	Default  []byte `json:"default,omitempty"` // encoded by graphd, opaque here
	Comment  string `json:"comment,omitempty"`
}

// Schema is a tag or an edge type.
type Schema struct {
	ID      int32    `json:"id"`
	Name    string   `json:"name"`
	Columns []Column `json:"columns"`
	Comment string   `json:"comment,omitempty"`
}

// Space is a graph space with its schema and part placement.
type Space struct {
	ID            int32            `json:"id"`
	Name          string           `json:"name"`
	PartitionNum  int32            `json:"partition_num"`
	ReplicaFactor int32            `json:"replica_factor"`
	VidType       int32            `json:"vid_type"` // PropertyType: INT64 or FIXED_STRING
	VidLen        int16            `json:"vid_len"`
	Charset       string           `json:"charset"`
	Collate       string           `json:"collate"`
	Comment       string           `json:"comment,omitempty"`
	Parts         map[int32][]Addr `json:"parts"` // part -> hosts holding a replica
	Tags          []*Schema        `json:"tags"`
	Edges         []*Schema        `json:"edges"`
}

// Host is a registered storaged, graphd or metad.
type Host struct {
	Addr    Addr     `json:"addr"`
	Role    int32    `json:"role"` // nebula HostRole
	Root    string   `json:"root,omitempty"`
	Data    []string `json:"data,omitempty"`
	Version string   `json:"version,omitempty"`
}

// BackupRecord outlives its snapshot: incremental backups name it as base.
type BackupRecord struct {
	Name       string  `json:"name"`
	ClusterID  int64   `json:"cluster_id"`
	Full       bool    `json:"full"`
	Base       string  `json:"base,omitempty"`
	Spaces     []int32 `json:"spaces"`
	CreateTime int64   `json:"create_time"`
}

// Snapshot is a set of checkpoints still on the storage hosts.
type Snapshot struct {
	Name   string  `json:"name"`
	Status int32   `json:"status"` // nebula SnapshotStatus
	Hosts  []Addr  `json:"hosts"`
	Spaces []int32 `json:"spaces"`
}

// Keys of the metad store: one JSON document per entity.
const (
	keyClusterID = "cluster_id"
	keyNextID    = "next_id"
	pfxSpace     = "space/"
	pfxHost      = "host/"
	pfxBackup    = "backup/"
	pfxSnapshot  = "snapshot/"
)

// store persists metad's state in Pebble and keeps a copy in memory.
type store struct {
	dir string
	db  *pebble.DB

	clusterID int64
	nextID    int32
	spaces    map[int32]*Space
	hosts     map[string]*Host
	backups   map[string]*BackupRecord
	snapshots map[string]*Snapshot
}

func openStore(dir string) (*store, error) {
	db, err := pebble.Open(dir, &pebble.Options{})
	if err != nil {
		return nil, fmt.Errorf("open meta store %s: %w", dir, err)
	}
	s := &store{dir: dir, db: db}
	if err := s.load(db); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// load reads every entity of a meta store (ours, or an exported one).
func (s *store) load(db *pebble.DB) error {
	s.spaces = map[int32]*Space{}
	s.hosts = map[string]*Host{}
	s.backups = map[string]*BackupRecord{}
	s.snapshots = map[string]*Snapshot{}
	it, err := db.NewIter(nil)
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k, v := string(it.Key()), it.Value()
		var err error
		switch {
		case k == keyClusterID:
			err = json.Unmarshal(v, &s.clusterID)
		case k == keyNextID:
			err = json.Unmarshal(v, &s.nextID)
		case strings.HasPrefix(k, pfxSpace):
			var sp Space
			if err = json.Unmarshal(v, &sp); err == nil {
				s.spaces[sp.ID] = &sp
			}
		case strings.HasPrefix(k, pfxHost):
			var h Host
			if err = json.Unmarshal(v, &h); err == nil {
				s.hosts[h.Addr.String()] = &h
			}
		case strings.HasPrefix(k, pfxBackup):
			var b BackupRecord
			if err = json.Unmarshal(v, &b); err == nil {
				s.backups[b.Name] = &b
			}
		case strings.HasPrefix(k, pfxSnapshot):
			var sn Snapshot
			if err = json.Unmarshal(v, &sn); err == nil {
				s.snapshots[sn.Name] = &sn
			}
		}
		if err != nil {
			return fmt.Errorf("meta store key %q: %w", k, err)
		}
	}
	return it.Error()
}

func (s *store) put(key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.db.Set([]byte(key), b, pebble.Sync)
}

func (s *store) del(key string) error { return s.db.Delete([]byte(key), pebble.Sync) }

func spaceKey(id int32) string { return fmt.Sprintf("%s%010d", pfxSpace, id) }

func (s *store) saveSpace(sp *Space) error { return s.put(spaceKey(sp.ID), sp) }

func (s *store) allocID() (int32, error) {
	s.nextID++
	return s.nextID, s.put(keyNextID, s.nextID)
}

func (s *store) spaceByName(name string) *Space {
	for _, sp := range s.spaces {
		if sp.Name == name {
			return sp
		}
	}
	return nil
}

func (s *store) sortedSpaces() []*Space {
	out := make([]*Space, 0, len(s.spaces))
	for _, sp := range s.spaces {
		out = append(out, sp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// export writes a consistent copy of the store (a Pebble checkpoint) into
// dir and returns its files: these are a backup's meta_files.
func (s *store) export(dir string) ([]string, error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	if err := s.db.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		return nil, fmt.Errorf("export meta to %s: %w", dir, err)
	}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	return files, err
}

// readExport loads the entities of an exported meta store.
func readExport(dir string) (*store, error) {
	// Pebble wants to write to the directory it opens: work on a copy so
	// that the downloaded files stay as they were.
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".restore-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(tmp, e.Name()), b, 0o644); err != nil {
			return nil, err
		}
	}
	db, err := pebble.Open(tmp, &pebble.Options{ErrorIfNotExists: true})
	if err != nil {
		return nil, fmt.Errorf("open exported meta in %s: %w", dir, err)
	}
	defer db.Close()
	s := &store{}
	if err := s.load(db); err != nil {
		return nil, err
	}
	return s, nil
}
