package objstore

// Config carries what opening a store may need. Secrets never appear in
// URI(), errors or logs.
type Config struct {
	S3 S3Config
	// ReadOnly: the store is only read (show, verify, restore): Check
	// then creates nothing, and a local root that does not exist is an
	// error rather than a directory to make.
	ReadOnly bool
}

// S3Config: empty keys fall back to AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
// and the SDK's usual chain. An endpoint with a port, or any host that is
// not AWS, is addressed path-style.
type S3Config struct {
	AccessKey string
	SecretKey string
	Region    string
	Endpoint  string // e.g. https://s3.us-east-1.amazonaws.com or http://127.0.0.1:9000
}

// String hides the secret.
func (c S3Config) String() string {
	key := ""
	if c.AccessKey != "" {
		key = "<set>"
	}
	return "S3Config{region=" + c.Region + " endpoint=" + c.Endpoint + " access_key=" + key + " secret_key=<redacted>}"
}
