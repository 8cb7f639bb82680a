package client

import (
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
)

func storageHost(t *testing.T, addr string, status meta.HostStatus, parts map[string][]nebula.PartitionID) *meta.HostItem {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	all := map[string][]nebula.PartitionID{}
	for k, v := range parts {
		all[k] = v
	}
	return &meta.HostItem{HostAddr: &nebula.HostAddr{Host: host, Port: nebula.Port(p)}, Status: status, Role: meta.HostRole_STORAGE, AllParts: all}
}

// closedPort is an address nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

func TestBackupFailureNamesOfflineHost(t *testing.T) {
	up := serve(t, meta.NewMetaServiceProcessor(&fakeMeta{})) // answers connects
	f := &fakeMeta{backupCode: nebula.ErrorCode_E_BACKUP_FAILED, hosts: []*meta.HostItem{
		storageHost(t, up.addr(), meta.HostStatus_ONLINE, map[string][]nebula.PartitionID{"s": {1}}),
		storageHost(t, "10.0.0.2:9779", meta.HostStatus_OFFLINE, map[string][]nebula.PartitionID{"s": {2}}),
		// Offline, but holds nothing of the spaces backed up.
		storageHost(t, "10.0.0.3:9779", meta.HostStatus_OFFLINE, map[string][]nebula.PartitionID{"other": {1}}),
	}}
	_, m := startMeta(t, f)
	_, err := m.CreateBackup(ctx, []string{"s"}, "", 0)
	want := "meta createBackup: E_BACKUP_FAILED: storage host 10.0.0.2:9779 is OFFLINE: start it (or wait until it registers), then retry"
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n got %v\nwant %s", err, want)
	}
	if !IsCode(err, nebula.ErrorCode_E_BACKUP_FAILED) {
		t.Fatal("IsCode lost the code")
	}
	if got := HostsDown(err); !reflect.DeepEqual(got, []string{"10.0.0.2:9779"}) {
		t.Fatalf("HostsDown = %v", got)
	}
}

// A storaged that has just stopped is still ONLINE for metad: the client
// finds it by connecting.
func TestBackupFailureNamesJustStoppedHost(t *testing.T) {
	up := serve(t, meta.NewMetaServiceProcessor(&fakeMeta{}))
	down := closedPort(t)
	f := &fakeMeta{backupCode: nebula.ErrorCode_E_BLOCK_WRITE_FAILURE, hosts: []*meta.HostItem{
		storageHost(t, up.addr(), meta.HostStatus_ONLINE, map[string][]nebula.PartitionID{"s": {1}}),
		storageHost(t, down, meta.HostStatus_ONLINE, map[string][]nebula.PartitionID{"s": {2}}),
	}}
	_, m := startMeta(t, f)
	_, err := m.CreateBackup(ctx, nil, "", 0)
	want := "meta createBackup: E_BLOCK_WRITE_FAILURE: storage host " + down + " does not accept connections (connection refused) though metad still lists it ONLINE (it has just stopped?): start it, then retry"
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n got %v\nwant %s", err, want)
	}
	if got := HostsDown(err); !reflect.DeepEqual(got, []string{down}) {
		t.Fatalf("HostsDown = %v", got)
	}
}

// All hosts up: nothing is made up.
func TestBackupFailureWithAllHostsUp(t *testing.T) {
	up := serve(t, meta.NewMetaServiceProcessor(&fakeMeta{}))
	f := &fakeMeta{backupCode: nebula.ErrorCode_E_BACKUP_FAILED, hosts: []*meta.HostItem{
		storageHost(t, up.addr(), meta.HostStatus_ONLINE, map[string][]nebula.PartitionID{"s": {1}}),
	}}
	_, m := startMeta(t, f)
	_, err := m.CreateBackup(ctx, nil, "", 0)
	if err == nil || err.Error() != "meta createBackup: E_BACKUP_FAILED" || HostsDown(err) != nil {
		t.Fatalf("error = %v, HostsDown = %v", err, HostsDown(err))
	}
}

func TestBackupRunningJobsNamesRunningBackup(t *testing.T) {
	f := &fakeMeta{backupCode: nebula.ErrorCode_E_BACKUP_RUNNING_JOBS, snapshots: []*meta.Snapshot{
		{Name: []byte("BACKUP_2024_01_01_00_00_00"), Status: meta.SnapshotStatus_VALID},
		{Name: []byte("BACKUP_2024_01_02_00_00_00"), Status: meta.SnapshotStatus_INVALID},
	}}
	_, m := startMeta(t, f)
	_, err := m.CreateBackup(ctx, nil, "", 0)
	if err == nil || !strings.HasPrefix(err.Error(), "meta createBackup: E_BACKUP_RUNNING_JOBS: backup BACKUP_2024_01_02_00_00_00 is in progress") {
		t.Fatalf("error = %v", err)
	}
	t.Log(err)

	// Against NebulaGraph's metad the code means a data job is running.
	f.snapshots = f.snapshots[:1]
	_, err = m.CreateBackup(ctx, nil, "", 0)
	if err == nil || !strings.Contains(err.Error(), "a job that changes data is running") || !strings.Contains(err.Error(), "SHOW JOBS") {
		t.Fatalf("error = %v", err)
	}
	t.Log(err)
}
