package lite

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/storage"
	"github.com/nebula-open/nebula-br/internal/nebula/graphtest"
)

// The rounds of metad's cut, sent to a real storaged: prepare_only leaves
// writes flowing (a BLOCK_ON that ignored it would hold them for the block
// TTL, 2 minutes), and BLOCK_ON then holds them until BLOCK_OFF.
func TestPrepareCutLeavesWritesFlowing(t *testing.T) {
	c := up(t, "127.0.17.10", 1, nil)
	s := graphtest.Connect(t, c.GraphAddr())
	s.Must(`CREATE SPACE g (partition_num = 2, replica_factor = 1, vid_type = FIXED_STRING(16))`)
	s.Must(`USE g; CREATE TAG person(name string, age int); CREATE EDGE knows(w int)`)
	load(s, "g", 0, 100)
	mc, err := client.NewMetaClient(c.MetaAddr(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	space, err := mc.GetSpace(context.Background(), "g")
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(c.StorageAddrs()[0])
	p, _ := strconv.Atoi(port)
	admin, err := client.NewStorageAdminClient(net.JoinHostPort(host, strconv.Itoa(p-1)), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx := context.Background()
	spaces := []nebula.GraphSpaceID{space.SpaceID}

	// write inserts one vertex, its outcome on the channel.
	write := func(vid string) <-chan error {
		done := make(chan error, 1)
		go func() {
			done <- s.Exec(`INSERT VERTEX person(name, age) VALUES "` + vid + `":("x", 1)`)
		}()
		return done
	}
	if err := admin.BlockingWritesWith(ctx, spaces, storage.EngineSignType_BLOCK_ON, client.CutOptions{PrepareOnly: true}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-write("after-prepare"):
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a write after prepare_only waited: the storaged blocked writes")
	}

	// The block itself holds writes: the test above can tell.
	if err := admin.BlockingWrites(ctx, spaces, storage.EngineSignType_BLOCK_ON); err != nil {
		t.Fatal(err)
	}
	held := write("under-block")
	select {
	case err := <-held:
		t.Fatalf("a write went through under BLOCK_ON (%v)", err)
	case <-time.After(time.Second):
	}
	if err := admin.BlockingWrites(ctx, spaces, storage.EngineSignType_BLOCK_OFF); err != nil {
		t.Fatal(err)
	}
	if err := <-held; err != nil {
		t.Fatal(err)
	}
}
