package graphd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
)

// Storage keys of graph data (inside a part; storaged adds the part prefix):
//
//	vertex tag:    0x01 | vid | tagID(4)
//	edge:          0x02 | src | edgeType(4) | rank(8) | dst
//
// An edge is stored twice: with +type in the source's part and, as the
// reverse edge, with -type and src/dst swapped in the destination's part,
// so GO ... REVERSELY is a prefix scan too. Integers are big-endian with the
// sign bit flipped so that keys sort numerically. Vids have a fixed width
// (8 bytes, or N bytes for FIXED_STRING(N), zero padded), so a vid is never
// a prefix of another.
const (
	kindVertex byte = 0x01
	kindEdge   byte = 0x02
)

// vidCodec encodes the vertex ids of one space.
type vidCodec struct {
	intVid bool
	width  int
	parts  int32
}

var errVidType = errors.New("wrong vertex id type")

// encode checks a vid against the space's vid type and encodes it.
func (c vidCodec) encode(v any) ([]byte, error) {
	if c.intVid {
		i, ok := v.(int64)
		if !ok {
			return nil, fmt.Errorf("%w: %s, the space's vid type is INT64", errVidType, describe(v))
		}
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(i)^(1<<63))
		return b[:], nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("%w: %s, the space's vid type is FIXED_STRING(%d)", errVidType, describe(v), c.width)
	}
	if len(s) > c.width {
		return nil, fmt.Errorf("vertex id %q is longer than the space's FIXED_STRING(%d)", s, c.width)
	}
	b := make([]byte, c.width)
	copy(b, s)
	return b, nil
}

func (c vidCodec) decode(b []byte) any {
	if c.intVid {
		return int64(binary.BigEndian.Uint64(b) ^ (1 << 63))
	}
	n := len(b)
	for n > 0 && b[n-1] == 0 {
		n--
	}
	return string(b[:n])
}

// part places a vid: parts are numbered from 1.
func (c vidCodec) part(vid []byte) int32 {
	var h uint64
	if c.intVid {
		h = binary.BigEndian.Uint64(vid) ^ (1 << 63)
	} else {
		f := fnv.New64a()
		f.Write(trimZero(vid))
		h = f.Sum64()
	}
	return int32(h%uint64(c.parts)) + 1
}

func trimZero(b []byte) []byte {
	n := len(b)
	for n > 0 && b[n-1] == 0 {
		n--
	}
	return b[:n]
}

func vertexKey(vid []byte, tag int32) []byte {
	k := make([]byte, 0, 1+len(vid)+4)
	k = append(k, kindVertex)
	k = append(k, vid...)
	return binary.BigEndian.AppendUint32(k, uint32(tag)^(1<<31))
}

func vertexPrefix(vid []byte) []byte { return append([]byte{kindVertex}, vid...) }

func edgeKey(src []byte, typ int32, rank int64, dst []byte) []byte {
	k := make([]byte, 0, 1+len(src)+12+len(dst))
	k = append(k, kindEdge)
	k = append(k, src...)
	k = binary.BigEndian.AppendUint32(k, uint32(typ)^(1<<31))
	k = binary.BigEndian.AppendUint64(k, uint64(rank)^(1<<63))
	return append(k, dst...)
}

func edgePrefix(vid []byte) []byte { return append([]byte{kindEdge}, vid...) }

type edgeKeyParts struct {
	src, dst []byte
	typ      int32
	rank     int64
}

func parseEdgeKey(k []byte, width int) (edgeKeyParts, bool) {
	if len(k) != 1+2*width+12 || k[0] != kindEdge {
		return edgeKeyParts{}, false
	}
	p := edgeKeyParts{src: k[1 : 1+width]}
	o := 1 + width
	p.typ = int32(binary.BigEndian.Uint32(k[o:]) ^ (1 << 31))
	p.rank = int64(binary.BigEndian.Uint64(k[o+4:]) ^ (1 << 63))
	p.dst = k[o+12:]
	return p, true
}

func parseVertexKey(k []byte, width int) (vid []byte, tag int32, ok bool) {
	if len(k) != 1+width+4 || k[0] != kindVertex {
		return nil, 0, false
	}
	return k[1 : 1+width], int32(binary.BigEndian.Uint32(k[1+width:]) ^ (1 << 31)), true
}

// Property rows: one value per column in schema order, each a type byte
// and its payload.
const (
	valNull byte = iota
	valBool
	valInt
	valFloat
	valString
)

func encodeRow(vals []any) ([]byte, error) {
	var b []byte
	for _, v := range vals {
		switch x := v.(type) {
		case nil:
			b = append(b, valNull)
		case bool:
			if x {
				b = append(b, valBool, 1)
			} else {
				b = append(b, valBool, 0)
			}
		case int64:
			b = append(b, valInt)
			b = binary.AppendVarint(b, x)
		case float64:
			b = append(b, valFloat)
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(x))
		case string:
			b = append(b, valString)
			b = binary.AppendUvarint(b, uint64(len(x)))
			b = append(b, x...)
		default:
			return nil, fmt.Errorf("cannot store a value of type %T", v)
		}
	}
	return b, nil
}

var errBadRow = errors.New("malformed property row")

func decodeRow(b []byte) ([]any, error) {
	var out []any
	for len(b) > 0 {
		t := b[0]
		b = b[1:]
		switch t {
		case valNull:
			out = append(out, nil)
		case valBool:
			if len(b) < 1 {
				return nil, errBadRow
			}
			out = append(out, b[0] == 1)
			b = b[1:]
		case valInt:
			v, n := binary.Varint(b)
			if n <= 0 {
				return nil, errBadRow
			}
			out = append(out, v)
			b = b[n:]
		case valFloat:
			if len(b) < 8 {
				return nil, errBadRow
			}
			out = append(out, math.Float64frombits(binary.BigEndian.Uint64(b)))
			b = b[8:]
		case valString:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return nil, errBadRow
			}
			out = append(out, string(b[n:n+int(l)]))
			b = b[n+int(l):]
		default:
			return nil, errBadRow
		}
	}
	return out, nil
}

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return fmt.Sprintf("string %q", x)
	case int64:
		return fmt.Sprintf("int %d", x)
	case float64:
		return fmt.Sprintf("float %g", x)
	case bool:
		return fmt.Sprintf("bool %t", x)
	}
	return fmt.Sprintf("%T", v)
}
