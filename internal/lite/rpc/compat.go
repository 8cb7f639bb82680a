package rpc

import (
	"context"
	"io"
	"math"
	"math/bits"

	"github.com/apache/thrift/lib/go/thrift"
)

// fbthrift's compact protocol (nebula-go >= 3.4 sends it inside THeader)
// writes version 2 in a message's second byte, where Apache Thrift's
// writes 1 and accepts nothing else. For NebulaGraph's IDL (no float
// type) the versions differ only in doubles: version 2 puts them on the
// wire big-endian, version 1 little-endian. fbthrift readers accept both
// versions, so replies go out as Apache Thrift writes them (version 1);
// requests in version 2 are read through fbCompat.
const fbCompactVersion = 2

// compatProcessor hands generated processors THeader connections through
// fbCompat.
type compatProcessor struct{ thrift.TProcessor }

func (p compatProcessor) Process(ctx context.Context, in, out thrift.TProtocol) (bool, thrift.TException) {
	hp, ok := in.(*thrift.THeaderProtocol)
	if !ok || out != in {
		return p.TProcessor.Process(ctx, in, out)
	}
	c := &fbCompat{TProtocol: hp, hp: hp}
	return p.TProcessor.Process(ctx, c, c)
}

// fbCompat is a THeaderProtocol that reads each compact message with a
// TCompactProtocol of its own, which then reads fbthrift's version 2 as
// well. Messages begin and end (sequence id, flush) on the
// THeaderProtocol; in between, reads and writes go to the protocol of the
// current message, which writes what the THeaderProtocol would.
type fbCompat struct {
	thrift.TProtocol // the current message's: hp, or the compact protocol
	hp               *thrift.THeaderProtocol
	be               bool // the current message is fbthrift's version 2
}

func (p *fbCompat) ReadMessageBegin(ctx context.Context) (string, thrift.TMessageType, int32, error) {
	p.TProtocol, p.be = p.hp, false
	if err := p.hp.ReadFrame(ctx); err != nil {
		return "", 0, 0, err
	}
	t := p.hp.Transport().(*thrift.THeaderTransport)
	if t.Protocol() != thrift.THeaderProtocolCompact {
		return p.hp.ReadMessageBegin(ctx)
	}
	// The protocol id and version byte; the rest is read as Apache
	// Thrift's compact protocol reads it.
	head := make([]byte, 2)
	if _, err := io.ReadFull(t, head); err != nil {
		return "", 0, 0, thrift.NewTProtocolException(err)
	}
	if head[0] == thrift.COMPACT_PROTOCOL_ID && head[1]&thrift.COMPACT_VERSION_MASK == fbCompactVersion {
		p.be = true
		head[1] = head[1]&^thrift.COMPACT_VERSION_MASK | thrift.COMPACT_VERSION
	}
	p.TProtocol = thrift.NewTCompactProtocolConf(&prefixed{TTransport: t, head: head}, conf)
	return p.TProtocol.ReadMessageBegin(ctx)
}

func (p *fbCompat) ReadDouble(ctx context.Context) (float64, error) {
	v, err := p.TProtocol.ReadDouble(ctx)
	if p.be && err == nil {
		v = math.Float64frombits(bits.ReverseBytes64(math.Float64bits(v)))
	}
	return v, err
}

// Skip skips through p, so that every read is p's.
func (p *fbCompat) Skip(ctx context.Context, fieldType thrift.TType) error {
	return thrift.SkipDefaultDepth(ctx, p, fieldType)
}

func (p *fbCompat) WriteMessageBegin(ctx context.Context, name string, typeID thrift.TMessageType, seqID int32) error {
	return p.hp.WriteMessageBegin(ctx, name, typeID, seqID)
}

func (p *fbCompat) WriteMessageEnd(ctx context.Context) error { return p.hp.WriteMessageEnd(ctx) }
func (p *fbCompat) Flush(ctx context.Context) error           { return p.hp.Flush(ctx) }
func (p *fbCompat) Transport() thrift.TTransport              { return p.hp.Transport() }

// prefixed reads head, then the transport.
type prefixed struct {
	thrift.TTransport
	head []byte
}

func (t *prefixed) Read(b []byte) (int, error) {
	if len(t.head) > 0 {
		n := copy(b, t.head)
		t.head = t.head[n:]
		return n, nil
	}
	return t.TTransport.Read(b)
}
