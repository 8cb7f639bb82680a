package kv

import (
	"sync"
	"time"
)

// writeGate implements blockingWrites. Writers pass through enter/exit;
// block waits for writers already inside and holds new ones until unblock.
// A block lifts itself after ttl so that a metad that dies mid-backup
// cannot stop a space's writes for good.
type writeGate struct {
	ttl time.Duration

	mu       sync.Mutex
	cond     *sync.Cond
	blocked  bool
	inflight int
	epoch    int // identifies the current block for its timer
}

func newWriteGate(ttl time.Duration) *writeGate {
	g := &writeGate{ttl: ttl}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *writeGate) enter() {
	g.mu.Lock()
	for g.blocked {
		g.cond.Wait()
	}
	g.inflight++
	g.mu.Unlock()
}

func (g *writeGate) exit() {
	g.mu.Lock()
	g.inflight--
	g.cond.Broadcast()
	g.mu.Unlock()
}

func (g *writeGate) block() {
	g.mu.Lock()
	g.blocked = true
	g.epoch++
	epoch := g.epoch
	for g.inflight > 0 {
		g.cond.Wait()
	}
	g.mu.Unlock()
	time.AfterFunc(g.ttl, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.blocked && g.epoch == epoch {
			g.blocked = false
			g.cond.Broadcast()
		}
	})
}

func (g *writeGate) unblock() {
	g.mu.Lock()
	g.blocked = false
	g.cond.Broadcast()
	g.mu.Unlock()
}
