package raftpart

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/nebula-open/nebula-br/internal/hostmap"
)

// Transport carries raft messages between storaged: each POST to
// http://<host>:<storage port + 1>/raft holds a batch of frames, each
// (space int32, part int32, length uint32, marshalled raftpb.Message).
// Delivery is best effort, as raft expects: a lost batch is retried by
// raft itself (and a lost snapshot reported to it).
type Transport struct {
	log *slog.Logger
	srv *http.Server
	ln  net.Listener

	mu       sync.Mutex
	replicas map[partKey]*Replica
	peers    map[string]*peerQueue // by storage address
	closed   bool
}

type partKey struct{ space, part int32 }

type outMsg struct {
	from *Replica
	msg  *raftpb.Message
}

type peerQueue struct {
	raftAddr string
	ch       chan outMsg
}

// RaftAddr is where the storaged at storage address addr takes raft
// messages (port + 1, NebulaGraph's raft port).
func RaftAddr(storageAddr string) (string, error) {
	host, port, err := net.SplitHostPort(storageAddr)
	if err != nil {
		return "", err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(p+1)), nil
}

// Listen serves raft messages on listenAddr.
func Listen(listenAddr string, log *slog.Logger) (*Transport, error) {
	if log == nil {
		log = slog.Default()
	}
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return nil, fmt.Errorf("raftpart: listen %s: %w", listenAddr, err)
	}
	t := &Transport{log: log, ln: ln, replicas: map[partKey]*Replica{}, peers: map[string]*peerQueue{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /raft", t.receive)
	// Peers send whole requests at once: a connection that does not is
	// closed soon.
	t.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 2 * time.Second, IdleTimeout: time.Minute}
	go t.srv.Serve(ln)
	return t, nil
}

// Addr is the listening address.
func (t *Transport) Addr() string { return t.ln.Addr().String() }

// Close stops serving and sending.
func (t *Transport) Close() error {
	t.mu.Lock()
	if !t.closed {
		t.closed = true
		for _, q := range t.peers {
			close(q.ch)
		}
	}
	t.mu.Unlock()
	return t.srv.Close()
}

func (t *Transport) add(r *Replica) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.replicas[r.key()] = r
}

func (t *Transport) remove(r *Replica) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.replicas[r.key()] == r {
		delete(t.replicas, r.key())
	}
}

// Replica returns this host's replica of a part, or nil.
func (t *Transport) Replica(space, part int32) *Replica {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.replicas[partKey{space, part}]
}

// Replicas lists this host's replicas.
func (t *Transport) Replicas() []*Replica {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*Replica, 0, len(t.replicas))
	for _, r := range t.replicas {
		out = append(out, r)
	}
	return out
}

// send queues a message for its peer without blocking the replica.
func (t *Transport) send(from *Replica, m *raftpb.Message) {
	to := from.addr(m.GetTo())
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	q := t.peers[to]
	if q == nil {
		raftAddr, err := RaftAddr(to)
		if err != nil {
			t.mu.Unlock()
			return
		}
		q = &peerQueue{raftAddr: raftAddr, ch: make(chan outMsg, 4096)}
		t.peers[to] = q
		go t.deliver(q)
	}
	select {
	case q.ch <- outMsg{from, m}:
	default: // the peer is far behind or down: raft sends again
	}
	t.mu.Unlock()
}

var client = &http.Client{Timeout: 10 * time.Second}

// deliver posts a peer's queued messages, a batch at a time.
func (t *Transport) deliver(q *peerQueue) {
	for first := range q.ch {
		batch := []outMsg{first}
	more:
		for len(batch) < 512 {
			select {
			case m, ok := <-q.ch:
				if !ok {
					break more
				}
				batch = append(batch, m)
			default:
				break more
			}
		}
		var body bytes.Buffer
		for _, m := range batch {
			b, err := proto.Marshal(m.msg)
			if err != nil {
				continue
			}
			k := m.from.key()
			var h [12]byte
			binary.BigEndian.PutUint32(h[0:4], uint32(k.space))
			binary.BigEndian.PutUint32(h[4:8], uint32(k.part))
			binary.BigEndian.PutUint32(h[8:12], uint32(len(b)))
			body.Write(h[:])
			body.Write(b)
		}
		err := post(q.raftAddr, body.Bytes())
		for _, m := range batch {
			snap := m.msg.GetType() == raftpb.MessageType_MsgSnap
			switch {
			case err != nil:
				m.from.reportUnreachable(m.msg.GetTo(), snap)
			case snap:
				m.from.reportSnapshotDone(m.msg.GetTo())
			}
		}
	}
}

func post(addr string, body []byte) error {
	// hostmap: tests on one machine map pod DNS names to loopback addresses.
	resp, err := client.Post("http://"+hostmap.Dial(addr)+"/raft", "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("raftpart: %s answered %s", addr, resp.Status)
	}
	return nil
}

var errFrame = errors.New("malformed raft frame")

func (t *Transport) receive(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<30))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for len(body) > 0 {
		if len(body) < 12 {
			http.Error(w, errFrame.Error(), http.StatusBadRequest)
			return
		}
		k := partKey{int32(binary.BigEndian.Uint32(body[0:4])), int32(binary.BigEndian.Uint32(body[4:8]))}
		n := binary.BigEndian.Uint32(body[8:12])
		if uint64(len(body)-12) < uint64(n) {
			http.Error(w, errFrame.Error(), http.StatusBadRequest)
			return
		}
		m := &raftpb.Message{}
		if err := proto.Unmarshal(body[12:12+n], m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = body[12+n:]
		// A part not open here yet (a space created a moment ago) drops
		// the message; raft retries.
		if r := t.Replica(k.space, k.part); r != nil {
			r.step(m)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}
