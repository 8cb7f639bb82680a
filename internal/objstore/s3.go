package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// s3PartSize is the multipart part size (larger for objects over 10,000
// parts of it, see partSizeFor and streamPartSize); objects up to it (or of
// unknown size that turn out to fit in it) go up in one request. A
// variable so that tests can lower it to S3's minimum.
var s3PartSize int64 = 16 << 20

const (
	defaultS3Endpoint = "https://s3.amazonaws.com"
	defaultS3Region   = "us-east-1"

	// s3PutThreads parts of one object are uploaded in parallel (each
	// buffered: s3PutThreads times the part size of memory per large
	// Put, 64 MiB up to 156.25 GiB objects).
	s3PutThreads = 4
	// s3BufferedParts parts are held in memory at most, across every
	// upload of the process (96 MiB with 16 MiB parts).
	s3BufferedParts = 6
	// s3Attempts bounds minio-go's own retries (attempts per request,
	// backoff 200 ms doubling up to 1 s).
	s3Attempts = 4
	// s3CheckAttempts and s3CheckTimeout bound Check.
	s3CheckAttempts = 2
	s3CheckTimeout  = 10 * time.Second
	// s3DialTimeout makes an unreachable endpoint fail within seconds.
	s3DialTimeout = 3 * time.Second
	// s3HeaderTimeout bounds the wait for a response once a request is sent.
	s3HeaderTimeout = 60 * time.Second
	// s3OpTimeout bounds the small requests (Stat, Delete) with retries.
	s3OpTimeout = 2 * time.Minute
)

// credentialsHint is the advice of every credentials error.
const credentialsHint = "check --s3.access_key/--s3.secret_key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"

type s3Store struct {
	client   *minio.Client // data requests
	check    *minio.Client // Check: fewer retries
	bucket   string
	prefix   string // "" or ending in "/"
	endpoint string // scheme://host[:port], for messages
	uri      string
	secrets  *secrets
	log      *slog.Logger
}

// openS3 makes the client; it does no I/O. log may be nil.
func openS3(bucket, prefix string, cfg S3Config, log *slog.Logger) (*s3Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &s3Store{bucket: bucket, secrets: &secrets{}, log: log}
	s.uri = "s3://" + bucket
	if prefix != "" {
		s.prefix = prefix + "/"
		s.uri += "/" + prefix
	}
	if err := s3utils.CheckValidBucketNameStrict(bucket); err != nil {
		return nil, newError(fmt.Sprintf("storage URI %q: bad bucket name: %v (%s)", s.uri, err, acceptedForms), ErrInvalidURI)
	}
	s.secrets.add(cfg.AccessKey, cfg.SecretKey)

	raw := strings.TrimSpace(cfg.Endpoint)
	if raw == "" {
		raw = defaultS3Endpoint
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	ep, err := url.Parse(raw)
	badEndpoint := func(why string) error {
		return newError(fmt.Sprintf("S3 endpoint %q: %s (want http[s]://host[:port])", s.secrets.redact(safeURI(cfg.Endpoint)), why), ErrInvalidURI)
	}
	switch {
	case err != nil:
		return nil, badEndpoint("cannot parse it")
	case ep.Scheme != "http" && ep.Scheme != "https":
		return nil, badEndpoint("scheme must be http or https")
	case ep.Host == "":
		return nil, badEndpoint("missing host")
	case ep.User != nil:
		return nil, badEndpoint("credentials do not belong in the endpoint")
	case strings.Trim(ep.Path, "/") != "" || ep.RawQuery != "":
		return nil, badEndpoint("a path is not supported")
	}
	secure := ep.Scheme == "https"
	s.endpoint = ep.Scheme + "://" + ep.Host

	region := cfg.Region
	if region == "" {
		region = defaultS3Region
	}
	lookup := bucketLookup(ep)

	var provider credentials.Provider
	if cfg.AccessKey != "" || cfg.SecretKey != "" {
		provider = &credentials.Static{Value: credentials.Value{
			AccessKeyID:     cfg.AccessKey,
			SecretAccessKey: cfg.SecretKey,
			SignerType:      credentials.SignatureV4,
		}}
	} else {
		home, _ := os.UserHomeDir()
		file := ""
		if home != "" {
			file = filepath.Join(home, ".aws", "credentials")
		}
		provider = &credentials.Chain{Providers: []credentials.Provider{
			&credentials.EnvAWS{},
			&credentials.FileAWSCredentials{Filename: file},
			&credentials.IAM{},
		}}
	}
	creds := credentials.New(&recordingProvider{Provider: provider, secrets: s.secrets})

	newClient := func(attempts int) (*minio.Client, error) {
		tr, err := minio.DefaultTransport(secure)
		if err != nil {
			return nil, err
		}
		tr.DialContext = (&net.Dialer{Timeout: s3DialTimeout, KeepAlive: 30 * time.Second}).DialContext
		tr.TLSHandshakeTimeout = 5 * time.Second
		tr.ResponseHeaderTimeout = s3HeaderTimeout
		tr.ExpectContinueTimeout = time.Second
		return minio.New(ep.Host, &minio.Options{
			Creds:        creds,
			Secure:       secure,
			Transport:    tr,
			Region:       region,
			BucketLookup: lookup,
			MaxRetries:   attempts,
		})
	}
	if s.client, err = newClient(s3Attempts); err != nil {
		return nil, badEndpoint(s.secrets.redact(err.Error()))
	}
	if s.check, err = newClient(s3CheckAttempts); err != nil {
		return nil, badEndpoint(s.secrets.redact(err.Error()))
	}
	return s, nil
}

// bucketLookup: virtual-host style (bucket.host) for AWS hosts without a
// port, path style (host/bucket) for everything else (MinIO, Ceph, ...).
func bucketLookup(ep *url.URL) minio.BucketLookupType {
	host := strings.ToLower(ep.Hostname())
	if ep.Port() == "" && (host == "amazonaws.com" || strings.HasSuffix(host, ".amazonaws.com")) {
		return minio.BucketLookupDNS
	}
	return minio.BucketLookupPath
}

// recordingProvider notes every credential it hands out, so errors can be
// scrubbed of them whatever provider of the chain produced them.
type recordingProvider struct {
	credentials.Provider
	secrets *secrets
}

func (p *recordingProvider) Retrieve() (credentials.Value, error) {
	v, err := p.Provider.Retrieve()
	p.secrets.add(v.AccessKeyID, v.SecretAccessKey, v.SessionToken)
	return v, err
}

func (p *recordingProvider) RetrieveWithCredContext(cc *credentials.CredContext) (credentials.Value, error) {
	v, err := p.Provider.RetrieveWithCredContext(cc)
	p.secrets.add(v.AccessKeyID, v.SecretAccessKey, v.SessionToken)
	return v, err
}

func (s *s3Store) URI() string { return s.uri }

// String names the store and its endpoint, never credentials.
func (s *s3Store) String() string { return s.uri + " at " + s.endpoint }

func (s *s3Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := checkKey(key); err != nil {
		return err
	}
	src := &sourceReader{ctx: ctx, r: r, remaining: size}
	var body io.Reader = src
	if size < 0 {
		// Unknown size: an object that fits in one part goes up in one
		// request rather than as a multipart upload.
		var head bytes.Buffer
		n, err := io.CopyN(&head, src, s3PartSize+1)
		switch {
		case errors.Is(err, io.EOF):
			body, size = bytes.NewReader(head.Bytes()), n
		case err != nil:
			return s.fail(ctx, "put", key, src, err)
		default:
			return s.putMultipart(ctx, key, io.MultiReader(&head, src), -1, src)
		}
	}
	if size > s3PartSize {
		return s.putMultipart(ctx, key, src, size, src)
	}
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream", PartSize: uint64(s3PartSize)}
	if _, err := s.client.PutObject(ctx, s.bucket, s.prefix+key, body, size, opts); err != nil {
		return s.fail(ctx, "put", key, src, err)
	}
	return nil
}

func (s *s3Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.fail(ctx, "get", key, nil, err)
	}
	// The first request goes out here, so a missing object fails Get itself.
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, s.fail(ctx, "get", key, nil, err)
	}
	return &failingReader{ReadCloser: obj, fail: func(err error) error { return s.fail(ctx, "get", key, nil, err) }}, nil
}

// failingReader passes a body's read errors through its store's fail,
// which classifies and scrubs them (errors in mid-stream).
type failingReader struct {
	io.ReadCloser
	fail func(error) error
}

func (r *failingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = r.fail(err)
	}
	return n, err
}

func (s *s3Store) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return ObjectInfo{}, err
	}
	octx, cancel := context.WithTimeout(ctx, s3OpTimeout)
	defer cancel()
	oi, err := s.client.StatObject(octx, s.bucket, s.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		return ObjectInfo{}, s.fail(ctx, "stat", key, nil, err)
	}
	return ObjectInfo{Key: key, Size: oi.Size, ModTime: oi.LastModified}, nil
}

func (s *s3Store) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if err := checkPrefix(prefix); err != nil {
		return err
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := s.client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true})
	defer func() {
		cancel()
		for range ch {
		}
	}()
	for oi := range ch {
		if oi.Err != nil {
			return s.fail(ctx, "list", prefix, nil, oi.Err)
		}
		key, ok := strings.CutPrefix(oi.Key, s.prefix)
		if !ok || key == "" || strings.HasSuffix(key, "/") {
			continue // "directory" markers are not objects
		}
		if err := fn(ObjectInfo{Key: key, Size: oi.Size, ModTime: oi.LastModified}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func (s *s3Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	octx, cancel := context.WithTimeout(ctx, s3OpTimeout)
	defer cancel()
	if err := s.client.RemoveObject(octx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{}); err != nil {
		if err := s.fail(ctx, "delete", key, nil, err); !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

func (s *s3Store) DeleteDir(ctx context.Context, dir string) (int, error) {
	if err := checkKey(dir); err != nil {
		return 0, err
	}
	var keys []string
	if err := s.List(ctx, dir+"/", func(oi ObjectInfo) error { keys = append(keys, oi.Key); return nil }); err != nil {
		return 0, err
	}
	for _, k := range keys {
		if err := s.Delete(ctx, k); err != nil {
			return 0, err
		}
	}
	// Multipart uploads that never completed (a failed Put keeps its parts
	// for a rerun to resume) hold storage too. They are listed for the
	// whole bucket: MinIO lists uploads only by exact key, not by prefix.
	for u := range s.client.ListIncompleteUploads(ctx, s.bucket, "", true) {
		if u.Err != nil {
			return len(keys), s.fail(ctx, "list uploads", dir, nil, u.Err)
		}
		if !strings.HasPrefix(u.Key, s.prefix+dir+"/") {
			continue
		}
		if err := s.client.RemoveIncompleteUpload(ctx, s.bucket, u.Key); err != nil {
			return len(keys), s.fail(ctx, "abort upload", strings.TrimPrefix(u.Key, s.prefix), nil, err)
		}
	}
	return len(keys), nil
}

// Check lists at most one key under the prefix: one request that needs the
// bucket to exist, the credentials to be accepted and list permission.
func (s *s3Store) Check(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, s3CheckTimeout)
	defer cancel()
	ch := s.check.ListObjects(cctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, MaxKeys: 1})
	var err error
	if oi, ok := <-ch; ok {
		err = oi.Err
	}
	cancel()
	for range ch {
	}
	if err != nil {
		return s.fail(ctx, "", "", nil, err)
	}
	if cctx.Err() != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return s.fail(ctx, "", "", nil, cctx.Err())
	}
	return ctx.Err()
}

// fail turns a minio-go error into the package's: classified (errors.Is with
// ErrNotFound, ErrBucketNotFound, ErrAccessDenied, ErrUnreachable, or the
// context's error), with a message that says what to do, scrubbed of every
// credential. op and key are "" for Check, whose messages name only the
// endpoint and bucket. src, if not nil, is the Put's source: its own
// failure is reported as such.
func (s *s3Store) fail(ctx context.Context, op, key string, src *sourceReader, err error) error {
	f := newFailer(op, key, s.secrets)
	mk := f.mk
	if ferr := f.first(ctx, src, fmt.Sprintf("S3 endpoint %s, bucket %q", s.endpoint, s.bucket)); ferr != nil {
		return ferr
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && resp.Code != "" {
		switch resp.Code {
		case minio.NoSuchKey:
			return mk(fmt.Sprintf("object not found in %s", s.uri), ErrNotFound)
		case minio.NoSuchBucket:
			return mk(fmt.Sprintf("bucket %q does not exist at %s: create it or fix --storage", s.bucket, s.endpoint), ErrBucketNotFound)
		case minio.InvalidAccessKeyID, minio.SignatureDoesNotMatch, minio.AccessDenied,
			"InvalidToken", "ExpiredToken", "InvalidSecurity", "MissingSecurityHeader":
			return mk(fmt.Sprintf("credentials rejected by %s (%s): %s", s.endpoint, resp.Code, credentialsHint), ErrAccessDenied)
		case "AuthorizationHeaderMalformed", "InvalidRegion", "PermanentRedirect", "IllegalLocationConstraintException":
			hint := "check --s3.region"
			if resp.Region != "" {
				hint += fmt.Sprintf(" (the bucket is in %q)", resp.Region)
			}
			return mk(fmt.Sprintf("S3 endpoint %s rejected the region for bucket %q (%s): %s", s.endpoint, s.bucket, resp.Code, hint))
		}
		msg := resp.Message
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		return mk(fmt.Sprintf("S3 endpoint %s, bucket %q: %s: %s", s.endpoint, s.bucket, resp.Code, msg))
	}
	var uerr *url.Error
	var nerr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return mk(fmt.Sprintf("cannot reach S3 endpoint %s: no answer in time (%v)", s.endpoint, context.DeadlineExceeded), ErrUnreachable, context.DeadlineExceeded)
	case errors.As(err, &uerr):
		return mk(fmt.Sprintf("cannot reach S3 endpoint %s: %v", s.endpoint, uerr.Err), ErrUnreachable, uerr.Err)
	case errors.As(err, &nerr):
		return mk(fmt.Sprintf("cannot reach S3 endpoint %s: %v", s.endpoint, err), ErrUnreachable, err)
	}
	return mk(fmt.Sprintf("S3 endpoint %s, bucket %q: %v", s.endpoint, s.bucket, err), err)
}

// sourceReader is a Put's source: it stops on ctx, holds the source to the
// declared size, and remembers its own failure so that it is not mistaken
// for the network's.
type sourceReader struct {
	ctx       context.Context
	r         io.Reader
	remaining int64 // -1: unknown

	mu  sync.Mutex
	err error
}

var errSourceTooLong = errors.New("reader has more bytes than the given size")

func (s *sourceReader) Read(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		return 0, err
	}
	if s.remaining == 0 {
		var probe [1]byte
		n, err := io.ReadFull(s.r, probe[:])
		if n > 0 {
			return 0, s.setErr(errSourceTooLong)
		}
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return 0, s.setErr(err)
		}
		return 0, io.EOF
	}
	if s.remaining > 0 && int64(len(p)) > s.remaining {
		p = p[:s.remaining]
	}
	n, err := s.r.Read(p)
	if s.remaining > 0 {
		s.remaining -= int64(n)
	}
	switch {
	case err == io.EOF && s.remaining > 0:
		return n, s.setErr(fmt.Errorf("reader ended %d bytes short of the given size: %w", s.remaining, io.ErrUnexpectedEOF))
	case err != nil && err != io.EOF:
		return n, s.setErr(err)
	}
	return n, err
}

func (s *sourceReader) setErr(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
	return err
}

func (s *sourceReader) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
