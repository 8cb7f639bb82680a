package agent

import (
	"context"
	"io"

	"golang.org/x/time/rate"
)

// chunk is the most one read through the limiter takes at a time; it is
// also the token bucket's burst, so a throttled stream moves in steps of at
// most this many bytes.
const chunk = 64 << 10

// limiter is the agent-wide token bucket (--ratelimit, in Mbps) shared by
// every transfer. A nil *limiter means no limit.
type limiter struct{ l *rate.Limiter }

func newLimiter(mbps float64) *limiter {
	if mbps <= 0 {
		return nil
	}
	bytesPerSec := mbps * 1e6 / 8
	return &limiter{l: rate.NewLimiter(rate.Limit(bytesPerSec), chunk)}
}

// wait blocks until n bytes (n <= chunk) may pass.
func (l *limiter) wait(ctx context.Context, n int) error {
	if l == nil || n <= 0 {
		return nil
	}
	return l.l.WaitN(ctx, n)
}

// reader throttles r through the limiter.
func (l *limiter) reader(ctx context.Context, r io.Reader) io.Reader {
	if l == nil {
		return r
	}
	return &limitedReader{ctx: ctx, r: r, l: l}
}

type limitedReader struct {
	ctx context.Context
	r   io.Reader
	l   *limiter
}

func (lr *limitedReader) Read(p []byte) (int, error) {
	if len(p) > chunk {
		p = p[:chunk]
	}
	n, err := lr.r.Read(p)
	if n > 0 {
		if werr := lr.l.wait(lr.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}
