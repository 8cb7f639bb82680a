package objstore

import (
	"context"
	"hash/crc32"
	"io"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum reads an object whole: its size and CRC-32C (Castagnoli), the
// checksum backups record for every object.
func Checksum(ctx context.Context, st Store, key string) (int64, uint32, error) {
	rc, err := st.Get(ctx, key)
	if err != nil {
		return 0, 0, err
	}
	defer rc.Close()
	h := crc32.New(castagnoli)
	n, err := io.Copy(h, rc)
	return n, h.Sum32(), err
}
