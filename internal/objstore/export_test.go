package objstore

import "testing"

// SetS3PartLimits lowers the S3 part size and the parts an upload may have
// until t ends, so that tests reach the multipart paths with few bytes.
// Not for parallel tests.
func SetS3PartLimits(t testing.TB, partSize int64, maxParts int) {
	oldSize, oldParts := s3PartSize, s3MaxParts
	s3PartSize, s3MaxParts = partSize, maxParts
	t.Cleanup(func() { s3PartSize, s3MaxParts = oldSize, oldParts })
}
