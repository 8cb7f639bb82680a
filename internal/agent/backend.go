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
	cfg := BackendConfig(b)
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

// BackendConfig is what opening a Backend's storage needs: its S3 keys and
// endpoint, its GCS credentials JSON and endpoint.
func BackendConfig(b *pb.Backend) objstore.Config {
	return objstore.Config{
		S3: objstore.S3Config{
			AccessKey: b.GetS3AccessKey(),
			SecretKey: b.GetS3SecretKey(),
			Region:    b.GetS3Region(),
			Endpoint:  b.GetS3Endpoint(),
		},
		GS: objstore.GSConfig{
			Credentials: b.GetGsCredentials(),
			Endpoint:    b.GetGsEndpoint(),
		},
	}
}
