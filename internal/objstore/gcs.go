package objstore

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/auth/httptransport"
	"cloud.google.com/go/storage"
	"github.com/googleapis/gax-go/v2"
	"golang.org/x/sync/errgroup"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
)

const (
	defaultGSEndpoint = "https://storage.googleapis.com"

	// gsChunkSize is the resumable upload's chunk: objects up to it go up
	// in one request; each Put buffers at most this much (less for an
	// object of known smaller size), which lets a failed chunk be retried.
	gsChunkSize = 16 << 20
	// gsChunkQuantum: chunk sizes are multiples of 256 KiB.
	gsChunkQuantum = 256 << 10
	// gsAttempts bounds the library's retries (attempts per request,
	// backoff 200 ms doubling up to 1 s), as s3Attempts.
	gsAttempts = 4
	// gsCheckAttempts and gsCheckTimeout bound Check.
	gsCheckAttempts = 2
	gsCheckTimeout  = 10 * time.Second
	// gsDialTimeout makes an unreachable endpoint fail within seconds.
	gsDialTimeout = 3 * time.Second
	// gsHeaderTimeout bounds the wait for a response once a request is sent.
	gsHeaderTimeout = 60 * time.Second
	// gsChunkTimeout ends an upload request whose chunk stalls (then retried).
	gsChunkTimeout = 2 * time.Minute
	// gsOpTimeout bounds the small requests (Stat, Delete) with retries.
	gsOpTimeout = 2 * time.Minute
	// gsDeleteThreads objects are deleted in parallel by DeleteDir (GCS
	// has no multi-object delete).
	gsDeleteThreads = 8
)

// gsCredentialsHint is the advice of every credentials error.
const gsCredentialsHint = "check --gs.credentials or GOOGLE_APPLICATION_CREDENTIALS (a service account key JSON)"

type gsStore struct {
	client   *storage.Client
	bucket   *storage.BucketHandle // data requests
	check    *storage.BucketHandle // Check: fewer retries
	name     string                // the bucket's
	prefix   string                // "" or ending in "/"
	endpoint string                // scheme://host[:port], for messages
	uri      string
	secrets  *secrets
}

// openGS makes the client; it does no I/O (Application Default
// Credentials are looked up at the first request).
func openGS(ctx context.Context, bucket, prefix string, cfg GSConfig) (*gsStore, error) {
	s := &gsStore{name: bucket, secrets: &secrets{}}
	s.uri = "gs://" + bucket
	if prefix != "" {
		s.prefix = prefix + "/"
		s.uri += "/" + prefix
	}
	if err := checkGSBucketName(bucket); err != nil {
		return nil, newError(fmt.Sprintf("storage URI %q: bad bucket name: %v (%s)", s.uri, err, acceptedForms), ErrInvalidURI)
	}

	credsJSON := []byte(cfg.Credentials)
	if len(credsJSON) == 0 && cfg.CredentialsFile != "" {
		b, err := os.ReadFile(cfg.CredentialsFile)
		if err != nil {
			return nil, newError(fmt.Sprintf("GCS credentials file: %v", err), ErrAccessDenied)
		}
		credsJSON = b
	}
	s.secrets.add(GSSecrets(string(credsJSON))...)

	// Where requests go: cfg.Endpoint, else STORAGE_EMULATOR_HOST (the
	// library reads it itself), else Google's.
	emulator := ""
	raw := strings.TrimSpace(cfg.Endpoint)
	if raw == "" {
		emulator = strings.TrimSpace(os.Getenv("STORAGE_EMULATOR_HOST"))
	}
	s.endpoint = defaultGSEndpoint
	for _, ep := range []string{raw, emulator} {
		if ep == "" {
			continue
		}
		full := ep
		if ep == emulator && !strings.Contains(ep, "://") {
			full = "http://" + ep // as the library takes it
		}
		u, err := parseGSEndpoint(full)
		if err != nil {
			what := "GCS endpoint"
			if ep == emulator {
				what = "STORAGE_EMULATOR_HOST"
			}
			return nil, newError(fmt.Sprintf("%s %q: %s (want http[s]://host[:port])", what, s.secrets.redact(safeURI(ep)), err), ErrInvalidURI)
		}
		s.endpoint = u.Scheme + "://" + u.Host
	}

	base := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: gsDialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       30 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: gsHeaderTimeout,
		ExpectContinueTimeout: time.Second,
	}
	hc := &http.Client{Transport: base}
	detect := &credentials.DetectOptions{
		Scopes: []string{storage.ScopeReadWrite},
		Client: &http.Client{Transport: base}, // token requests
	}
	var creds *auth.Credentials
	switch {
	case len(credsJSON) > 0:
		typ, err := gsCredentialsType(credsJSON)
		if err != nil {
			return nil, newError("GCS credentials: "+err.Error()+": "+gsCredentialsHint, ErrAccessDenied)
		}
		if creds, err = cachedCredentials(typ, credsJSON, detect); err != nil {
			return nil, newError(s.secrets.redact("GCS credentials: "+err.Error()+": "+gsCredentialsHint), ErrAccessDenied)
		}
	case raw != "" || emulator != "":
		// An emulator: no credentials.
	default:
		creds = auth.NewCredentials(&auth.CredentialsOptions{TokenProvider: &adcProvider{opts: detect, secrets: s.secrets}})
	}
	// No telemetry export: a store is opened per request on the agents.
	opts := []option.ClientOption{option.WithHTTPClient(hc), storage.WithDisabledClientMetrics()}
	if creds != nil {
		if err := httptransport.AddAuthorizationMiddleware(hc, creds); err != nil {
			return nil, newError("GCS client: "+err.Error(), ErrInvalidURI)
		}
		opts = append(opts, option.WithAuthCredentials(creds))
	} else {
		opts = append(opts, option.WithoutAuthentication())
	}
	if raw != "" {
		opts = append(opts, option.WithEndpoint(s.endpoint+"/storage/v1/"))
	}
	client, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, newError(s.secrets.redact("GCS client: "+err.Error()), ErrInvalidURI)
	}
	backoff := gax.Backoff{Initial: 200 * time.Millisecond, Max: time.Second, Multiplier: 2}
	// Every request may be retried: objects are written whole under their
	// final key, so a repeated upload or delete does no harm.
	client.SetRetry(storage.WithPolicy(storage.RetryAlways), storage.WithMaxAttempts(gsAttempts), storage.WithBackoff(backoff))
	s.client = client
	s.bucket = client.Bucket(bucket)
	s.check = s.bucket.Retryer(storage.WithMaxAttempts(gsCheckAttempts))
	return s, nil
}

// parseGSEndpoint accepts http[s]://host[:port] or host[:port] (https).
func parseGSEndpoint(raw string) (*url.URL, error) {
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, errors.New("cannot parse it")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("scheme must be http or https")
	case u.Host == "":
		return nil, errors.New("missing host")
	case u.User != nil:
		return nil, errors.New("credentials do not belong in the endpoint")
	case strings.Trim(u.Path, "/") != "" && strings.Trim(u.Path, "/") != "storage/v1" || u.RawQuery != "":
		return nil, errors.New("a path is not supported")
	}
	return u, nil
}

// checkGSBucketName: 3-63 characters (222 with dots, each dot-separated
// part at most 63) of a-z, 0-9, '-', '_' and '.', starting and ending with
// a letter or digit.
func checkGSBucketName(b string) error {
	max := 63
	if strings.Contains(b, ".") {
		max = 222
	}
	if len(b) < 3 || len(b) > max {
		return fmt.Errorf("%d characters, want 3 to %d", len(b), max)
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("character %q (use a-z, 0-9, '-', '_' and '.')", c)
		}
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	if !alnum(b[0]) || !alnum(b[len(b)-1]) {
		return errors.New("must start and end with a letter or digit")
	}
	for _, part := range strings.Split(b, ".") {
		if part == "" || len(part) > 63 {
			return errors.New("each dot-separated part must have 1 to 63 characters")
		}
	}
	return nil
}

// gsCredentialsType checks a credentials JSON without quoting it: a service
// account key or an authorized user's credentials (no external accounts:
// their configuration can run programs or reach arbitrary URLs).
func gsCredentialsType(b []byte) (credentials.CredType, error) {
	var f struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return "", fmt.Errorf("not a credentials JSON (invalid JSON at byte %d)", se.Offset)
		}
		return "", errors.New("not a credentials JSON")
	}
	switch credentials.CredType(f.Type) {
	case credentials.ServiceAccount, credentials.AuthorizedUser:
		return credentials.CredType(f.Type), nil
	case "":
		return "", errors.New(`the JSON has no "type" (want "service_account")`)
	}
	return "", fmt.Errorf(`credentials of type %q are not supported (want "service_account")`, f.Type)
}

// GSSecrets lists what of a GCS credentials JSON must never be shown: the
// whole text, and its private key (each line of it too), client secret and
// refresh token.
func GSSecrets(credentials string) []string {
	if credentials == "" {
		return nil
	}
	out := []string{credentials}
	var f struct {
		PrivateKey   string `json:"private_key"`
		ClientSecret string `json:"client_secret"`
		RefreshToken string `json:"refresh_token"`
	}
	if json.Unmarshal([]byte(credentials), &f) != nil {
		return out
	}
	for _, v := range []string{f.PrivateKey, f.ClientSecret, f.RefreshToken} {
		if v != "" {
			out = append(out, v)
		}
	}
	for _, line := range strings.Split(f.PrivateKey, "\n") {
		if line = strings.TrimSpace(line); len(line) >= 16 && !strings.HasPrefix(line, "-----") {
			out = append(out, line)
		}
	}
	return out
}

// gsCreds keeps the credentials of the keys this process has used, with
// their tokens: an agent opens a store per request, and each would
// otherwise fetch a token first.
var gsCreds struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]*auth.Credentials
}

func cachedCredentials(typ credentials.CredType, b []byte, opts *credentials.DetectOptions) (*auth.Credentials, error) {
	key := sha256.Sum256(b)
	gsCreds.mu.Lock()
	defer gsCreds.mu.Unlock()
	if c := gsCreds.m[key]; c != nil {
		return c, nil
	}
	c, err := credentials.NewCredentialsFromJSON(typ, b, opts)
	if err != nil {
		return nil, err
	}
	if gsCreds.m == nil || len(gsCreds.m) >= 16 {
		gsCreds.m = map[[sha256.Size]byte]*auth.Credentials{}
	}
	gsCreds.m[key] = c
	return c, nil
}

// adcProvider finds Application Default Credentials at the first request
// (which may ask a metadata server), not at Open.
type adcProvider struct {
	opts    *credentials.DetectOptions
	secrets *secrets

	once  sync.Once
	creds *auth.Credentials
	err   error
}

// errNoCredentials: no Application Default Credentials were found.
type errNoCredentials struct{ err error }

func (e *errNoCredentials) Error() string { return e.err.Error() }
func (e *errNoCredentials) Unwrap() error { return e.err }

func (p *adcProvider) Token(ctx context.Context) (*auth.Token, error) {
	p.once.Do(func() {
		if f := os.Getenv("GOOGLE_APPLICATION_CREDENTIALS"); f != "" {
			if b, err := os.ReadFile(f); err == nil {
				p.secrets.add(GSSecrets(string(b))...)
			}
		}
		p.creds, p.err = credentials.DetectDefault(p.opts)
		if p.err != nil {
			p.err = &errNoCredentials{p.err}
		}
	})
	if p.err != nil {
		return nil, p.err
	}
	return p.creds.Token(ctx)
}

func (s *gsStore) URI() string { return s.uri }

// String names the store and its endpoint, never credentials.
func (s *gsStore) String() string { return s.uri + " at " + s.endpoint }

func (s *gsStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return s.fail(ctx, "put", key, nil, err)
	}
	src := &sourceReader{ctx: ctx, r: r, remaining: size}
	// Cancelling the writer's context is how an upload is abandoned: the
	// object is created only by a successful Close.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The library retries an upload's requests until the context ends
	// (WithMaxAttempts does not bound them): allow gsAttempts failures in a
	// row, counted again from each chunk that goes through.
	var fails atomic.Int32
	obj := s.bucket.Object(s.prefix + key).Retryer(storage.WithErrorFunc(func(err error) bool {
		return storage.ShouldRetry(err) && fails.Add(1) < gsAttempts
	}))
	w := obj.NewWriter(wctx)
	w.ProgressFunc = func(int64) { fails.Store(0) }
	w.ContentType = "application/octet-stream"
	w.ChunkSize = gsChunkSize
	if size >= 0 && size < gsChunkSize {
		// One request, with a buffer just big enough.
		w.ChunkSize = int((size/gsChunkQuantum + 1) * gsChunkQuantum)
	}
	w.ChunkTransferTimeout = gsChunkTimeout
	if _, err := io.Copy(w, src); err != nil {
		cancel()
		w.Close()
		return s.fail(ctx, "put", key, src, err)
	}
	if err := w.Close(); err != nil {
		return s.fail(ctx, "put", key, src, err)
	}
	return nil
}

func (s *gsStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	rd, err := s.bucket.Object(s.prefix + key).NewReader(ctx)
	if err != nil {
		return nil, s.fail(ctx, "get", key, nil, err)
	}
	return &failingReader{ReadCloser: rd, fail: func(err error) error { return s.fail(ctx, "get", key, nil, err) }}, nil
}

func (s *gsStore) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return ObjectInfo{}, err
	}
	octx, cancel := context.WithTimeout(ctx, gsOpTimeout)
	defer cancel()
	a, err := s.bucket.Object(s.prefix + key).Attrs(octx)
	if err != nil {
		return ObjectInfo{}, s.fail(ctx, "stat", key, nil, err)
	}
	return ObjectInfo{Key: key, Size: a.Size, ModTime: gsModTime(a)}, nil
}

// gsModTime: when this generation of the object was written.
func gsModTime(a *storage.ObjectAttrs) time.Time {
	if !a.Updated.IsZero() {
		return a.Updated
	}
	return a.Created
}

func (s *gsStore) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if err := checkPrefix(prefix); err != nil {
		return err
	}
	q := &storage.Query{Prefix: s.prefix + prefix}
	if err := q.SetAttrSelection([]string{"Name", "Size", "Updated", "Created"}); err != nil {
		return s.fail(ctx, "list", prefix, nil, err)
	}
	it := s.bucket.Objects(ctx, q)
	for {
		a, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			return s.fail(ctx, "list", prefix, nil, err)
		}
		key, ok := strings.CutPrefix(a.Name, s.prefix)
		if !ok || key == "" || strings.HasSuffix(key, "/") {
			continue // "folder" placeholders are not objects
		}
		if err := fn(ObjectInfo{Key: key, Size: a.Size, ModTime: gsModTime(a)}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func (s *gsStore) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	octx, cancel := context.WithTimeout(ctx, gsOpTimeout)
	defer cancel()
	if err := s.bucket.Object(s.prefix + key).Delete(octx); err != nil && !errors.Is(err, storage.ErrObjectNotExist) {
		return s.fail(ctx, "delete", key, nil, err)
	}
	return nil
}

// DeleteDir removes every object under dir/. An abandoned resumable upload
// leaves no object behind (GCS drops the session after a week), so there
// is nothing else to remove.
func (s *gsStore) DeleteDir(ctx context.Context, dir string) (int, error) {
	if err := checkKey(dir); err != nil {
		return 0, err
	}
	var keys []string
	if err := s.List(ctx, dir+"/", func(oi ObjectInfo) error { keys = append(keys, oi.Key); return nil }); err != nil {
		return 0, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(gsDeleteThreads)
	for _, k := range keys {
		g.Go(func() error { return s.Delete(gctx, k) })
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return len(keys), nil
}

// Check lists at most one object under the prefix: one request that needs
// the bucket to exist, the credentials to be accepted and list permission.
func (s *gsStore) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return s.fail(ctx, "", "", nil, err)
	}
	cctx, cancel := context.WithTimeout(ctx, gsCheckTimeout)
	defer cancel()
	it := s.check.Objects(cctx, &storage.Query{Prefix: s.prefix})
	it.PageInfo().MaxSize = 1
	_, err := it.Next()
	if err == nil || err == iterator.Done {
		return nil
	}
	if ctx.Err() == nil && cctx.Err() != nil {
		err = context.DeadlineExceeded
	}
	return s.fail(ctx, "", "", nil, err)
}

// bucketMissing asks whether the bucket exists, after an object was not
// found (GCS answers 404 alike for a missing object and a missing bucket).
func (s *gsStore) bucketMissing(ctx context.Context) bool {
	cctx, cancel := context.WithTimeout(ctx, gsCheckTimeout)
	defer cancel()
	it := s.check.Objects(cctx, &storage.Query{Prefix: s.prefix})
	it.PageInfo().MaxSize = 1
	_, err := it.Next()
	return isGSBucketNotFound(err)
}

func isGSBucketNotFound(err error) bool {
	var gerr *googleapi.Error
	return errors.Is(err, storage.ErrBucketNotExist) || errors.As(err, &gerr) && gerr.Code == http.StatusNotFound
}

// fail turns a library error into the package's: classified (errors.Is with
// ErrNotFound, ErrBucketNotFound, ErrAccessDenied, ErrUnreachable, or the
// context's error), with a message that says what to do, scrubbed of every
// credential. op and key are "" for Check, whose messages name only the
// endpoint and bucket. src, if not nil, is the Put's source: its own
// failure is reported as such.
func (s *gsStore) fail(ctx context.Context, op, key string, src *sourceReader, err error) error {
	f := newFailer(op, key, s.secrets)
	mk := f.mk
	if ferr := f.first(ctx, src, fmt.Sprintf("GCS endpoint %s, bucket %q", s.endpoint, s.name)); ferr != nil {
		return ferr
	}
	bucketGone := func() error {
		return mk(fmt.Sprintf("bucket %q does not exist at %s: create it or fix --storage", s.name, s.endpoint), ErrBucketNotFound)
	}
	switch {
	case errors.Is(err, storage.ErrObjectNotExist):
		if (op == "get" || op == "stat") && s.bucketMissing(ctx) {
			return bucketGone()
		}
		return mk(fmt.Sprintf("object not found in %s", s.uri), ErrNotFound)
	case errors.Is(err, storage.ErrBucketNotExist):
		return bucketGone()
	}
	var noCreds *errNoCredentials
	if errors.As(err, &noCreds) {
		return mk(fmt.Sprintf("no Google Cloud credentials found for bucket %q (%s): give --gs.credentials FILE or set GOOGLE_APPLICATION_CREDENTIALS", s.name, firstLine(noCreds.err.Error())), ErrAccessDenied)
	}
	var aerr *auth.Error
	if errors.As(err, &aerr) {
		// The token endpoint turned the credentials down.
		return mk(fmt.Sprintf("credentials for bucket %q rejected by the token endpoint (%s): %s", s.name, tokenError(aerr), gsCredentialsHint), ErrAccessDenied)
	}
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		switch gerr.Code {
		case http.StatusNotFound:
			// Uploads and listings name the bucket only.
			return bucketGone()
		case http.StatusUnauthorized:
			return mk(fmt.Sprintf("credentials rejected by %s for bucket %q (401 %s): %s", s.endpoint, s.name, shortMsg(gerr), gsCredentialsHint), ErrAccessDenied)
		case http.StatusForbidden:
			return mk(fmt.Sprintf("access to bucket %q denied by %s (403 %s): grant the credentials' account roles/storage.objectAdmin on the bucket, or %s",
				s.name, s.endpoint, shortMsg(gerr), gsCredentialsHint), ErrAccessDenied)
		}
		return mk(fmt.Sprintf("GCS endpoint %s, bucket %q: %d %s", s.endpoint, s.name, gerr.Code, shortMsg(gerr)))
	}
	// A request that got no answer: name the host it went to (the token
	// endpoint's or the storage's), not its URL (an upload session's
	// address is a capability).
	var (
		uerr  *url.Error
		inner *url.Error
	)
	for e := err; errors.As(e, &uerr); e = uerr.Err {
		inner = uerr
	}
	host := "GCS endpoint " + s.endpoint
	if inner != nil {
		if u, perr := url.Parse(inner.URL); perr == nil && u.Host != "" && u.Scheme+"://"+u.Host != s.endpoint {
			host = "the token endpoint " + u.Scheme + "://" + u.Host
		}
	}
	var nerr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return mk(fmt.Sprintf("cannot reach %s (bucket %q): no answer in time (%v)", host, s.name, context.DeadlineExceeded), ErrUnreachable, context.DeadlineExceeded)
	case inner != nil:
		return mk(fmt.Sprintf("cannot reach %s (bucket %q): %v", host, s.name, inner.Err), ErrUnreachable, inner.Err)
	case errors.As(err, &nerr):
		return mk(fmt.Sprintf("cannot reach %s (bucket %q): %v", host, s.name, err), ErrUnreachable, err)
	}
	return mk(fmt.Sprintf("GCS endpoint %s, bucket %q: %v", s.endpoint, s.name, err), err)
}

// shortMsg is a googleapi.Error's message, on one line, cut short.
func shortMsg(e *googleapi.Error) string {
	msg := e.Message
	if msg == "" && len(e.Errors) > 0 {
		msg = e.Errors[0].Message
	}
	if msg == "" {
		msg = http.StatusText(e.Code)
	}
	msg = firstLine(msg)
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return msg
}

// tokenError is the token endpoint's answer: its status, and the OAuth
// error and description when the body has them.
func tokenError(e *auth.Error) string {
	out := ""
	if e.Response != nil {
		out = fmt.Sprint(e.Response.StatusCode)
	}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(e.Body, &body) == nil && body.Error != "" {
		out += " " + body.Error
		if body.Description != "" {
			out += ": " + firstLine(body.Description)
		}
	}
	if out == "" {
		out = firstLine(e.Error())
	}
	if len(out) > 200 {
		out = out[:200] + "..."
	}
	return strings.TrimSpace(out)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
