package pb

import "github.com/nebula-open/nebula-br/internal/objstore"

// StoreConfig is what opening the Backend's storage needs: its S3 keys and
// endpoint, its GCS credentials JSON and endpoint.
func (b *Backend) StoreConfig() objstore.Config {
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
