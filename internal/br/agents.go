package br

import (
	"context"
	"sync"

	agentclient "github.com/nebula-open/nebula-br/internal/agent/client"
	"github.com/nebula-open/nebula-br/internal/agent/pb"
)

// agentPool keeps one connection per agent for a command.
type agentPool struct {
	mu    sync.Mutex
	conns map[string]*agentclient.Client
}

func newAgentPool() *agentPool { return &agentPool{conns: map[string]*agentclient.Client{}} }

func (p *agentPool) get(ctx context.Context, addr string) (*agentclient.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.conns[addr]; c != nil {
		return c, nil
	}
	c, err := agentclient.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	p.conns[addr] = c
	return c, nil
}

func (p *agentPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

func (p *agentPool) upload(ctx context.Context, agent string, req *pb.UploadFileRequest, on func(*pb.Progress)) ([]*pb.FileSum, error) {
	c, err := p.get(ctx, agent)
	if err != nil {
		return nil, err
	}
	return c.Upload(ctx, req, on)
}

func (p *agentPool) incrUpload(ctx context.Context, agent string, req *pb.IncrUploadFileRequest, on func(*pb.Progress)) ([]*pb.FileSum, error) {
	c, err := p.get(ctx, agent)
	if err != nil {
		return nil, err
	}
	return c.IncrUpload(ctx, req, on)
}
