package agent

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nebula-open/nebula-br/internal/agent/pb"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

// openBackend opens the storage root a request names. It returns the
// secrets the backend carries, to be scrubbed from whatever is reported.
func (s *Server) openBackend(ctx context.Context, b *pb.Backend) (objstore.Store, []string, error) {
	sec := secrets(b)
	if b == nil || b.Uri == "" {
		return nil, sec, status.Error(codes.InvalidArgument, "backend uri is not set")
	}
	cfg := b.StoreConfig()
	cfg.Log = s.log // an S3 upload resumed by part says so
	st, err := s.cfg.Open(ctx, b.Uri, cfg)
	if err != nil {
		code := codeOf(err)
		if code == codes.Internal {
			code = codes.FailedPrecondition
		}
		return nil, sec, status.Errorf(code, "open storage %s: %s", b.Uri, scrub(err.Error(), sec))
	}
	return st, sec, nil
}
