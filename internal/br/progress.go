package br

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/nebula-open/nebula-br/internal/agent/pb"
)

// progress sums the transfers of one command and prints them: a redrawn
// line on a terminal, a line every few seconds otherwise.
type progress struct {
	verb  string
	out   io.Writer
	term  bool
	start time.Time

	mu    sync.Mutex
	tasks map[int]*pb.Progress
	next  int
	last  time.Time
	stop  chan struct{}
	done  chan struct{}
}

func newProgress(verb string, out io.Writer, term bool) *progress {
	p := &progress{verb: verb, out: out, term: term, start: time.Now(), tasks: map[int]*pb.Progress{}, stop: make(chan struct{}), done: make(chan struct{})}
	go p.loop()
	return p
}

// task registers a transfer and returns its update function.
func (p *progress) task() func(*pb.Progress) {
	p.mu.Lock()
	id := p.next
	p.next++
	p.tasks[id] = &pb.Progress{}
	p.mu.Unlock()
	return func(u *pb.Progress) {
		p.mu.Lock()
		p.tasks[id] = u
		p.mu.Unlock()
	}
}

func (p *progress) totals() (bytes, bytesTotal int64, files, filesTotal int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.tasks {
		bytes += t.BytesDone
		bytesTotal += t.BytesTotal
		files += int(t.FilesDone)
		filesTotal += int(t.FilesTotal)
	}
	return
}

func (p *progress) loop() {
	defer close(p.done)
	interval := 5 * time.Second
	if p.term {
		interval = 300 * time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.print()
		}
	}
}

func (p *progress) print() {
	if p.out == nil {
		return
	}
	b, bt, f, ft := p.totals()
	el := time.Since(p.start).Seconds()
	rate := float64(b) / max(el, 0.001)
	eta := "?"
	if rate > 0 && bt >= b {
		eta = (time.Duration(float64(bt-b)/rate) * time.Second / time.Second).Round(time.Second).String()
	}
	line := fmt.Sprintf("%s %s / %s, %d/%d files, %s/s, %s left", p.verb, HumanBytes(b), HumanBytes(bt), f, ft, HumanBytes(int64(rate)), eta)
	if p.term {
		fmt.Fprintf(p.out, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(p.out, line)
	}
}

// finish stops printing and returns the totals.
func (p *progress) finish() (bytes int64, files int, took time.Duration) {
	close(p.stop)
	<-p.done
	if p.term && p.out != nil {
		fmt.Fprint(p.out, "\r\033[K")
	}
	b, _, f, _ := p.totals()
	return b, f, time.Since(p.start)
}

func rate(bytes int64, d time.Duration) string {
	return fmt.Sprintf("%.1f MB/s", float64(bytes)/1e6/max(d.Seconds(), 0.001))
}
