package objstore

import "log/slog"

// Config carries what opening a store may need. Secrets never appear in
// URI(), errors or logs.
type Config struct {
	S3 S3Config
	GS GSConfig
	// ReadOnly: the store is only read (show, verify, restore): Check
	// then creates nothing, and a local root that does not exist is an
	// error rather than a directory to make.
	ReadOnly bool
	// Log, if set, receives what a store does beyond its results (an S3
	// upload resumed: how many parts and bytes were kept). Never secrets.
	Log *slog.Logger
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

// GSConfig reaches Google Cloud Storage (gs://BUCKET[/prefix]).
//
// Credentials: the content of a credentials JSON (a service account key, as
// nebula-agent's GS.credentials and the operator's Secret carry it; an
// authorized user's also works), else CredentialsFile, its path. With
// neither, the library's Application Default Credentials are used
// (GOOGLE_APPLICATION_CREDENTIALS, gcloud's, the metadata server), except
// against an emulator (Endpoint given, or STORAGE_EMULATOR_HOST set), which
// is called without credentials.
type GSConfig struct {
	Credentials     string
	CredentialsFile string
	// Endpoint overrides https://storage.googleapis.com, e.g.
	// http://127.0.0.1:4443 for fake-gcs-server. STORAGE_EMULATOR_HOST,
	// honoured by the library, does the same when this is empty.
	Endpoint string
}

// String hides the credentials.
func (c GSConfig) String() string {
	creds := ""
	switch {
	case c.Credentials != "":
		creds = "<set>"
	case c.CredentialsFile != "":
		creds = "file " + c.CredentialsFile
	}
	return "GSConfig{endpoint=" + c.Endpoint + " credentials=" + creds + "}"
}
