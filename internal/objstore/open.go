package objstore

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"strings"
)

// acceptedForms is named by every URI error.
const acceptedForms = "accepted forms: s3://BUCKET[/prefix], gs://BUCKET[/prefix] or local:///absolute/path"

// Open returns the store rooted at uri:
//
//	s3://BUCKET[/prefix]   S3 or an S3-compatible service (cfg.S3)
//	gs://BUCKET[/prefix]   Google Cloud Storage (cfg.GS)
//	local:///abs/path      a local directory (created by Check or the first Put)
//
// Open does no I/O; call Check to find out whether the store is usable.
func Open(ctx context.Context, uri string, cfg Config) (Store, error) {
	shown := safeURI(uri)
	bad := func(why string) error {
		return newError(fmt.Sprintf("storage URI %q: %s (%s)", shown, why, acceptedForms), ErrInvalidURI)
	}
	u, err := url.Parse(uri)
	if err != nil {
		return nil, bad("cannot parse it")
	}
	if u.User != nil {
		return nil, bad("credentials do not belong in the URI (use --s3.access_key/--s3.secret_key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for s3, --gs.credentials or GOOGLE_APPLICATION_CREDENTIALS for gs)")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, bad("query and fragment are not supported")
	}
	switch strings.ToLower(u.Scheme) {
	case "s3":
		if u.Opaque != "" || u.Host == "" {
			return nil, bad("missing bucket name")
		}
		if u.Port() != "" {
			return nil, bad("bucket name may not have a port; put the endpoint in --s3.endpoint")
		}
		prefix := strings.Trim(u.Path, "/")
		if prefix != "" {
			if err := checkPath(prefix); err != nil {
				return nil, bad("prefix " + err.Error())
			}
		}
		return openS3(u.Host, prefix, cfg.S3, cfg.Log)
	case "gs":
		if u.Opaque != "" || u.Host == "" {
			return nil, bad("missing bucket name")
		}
		if u.Port() != "" {
			return nil, bad("bucket name may not have a port; put an emulator's address in --gs.endpoint")
		}
		prefix := strings.Trim(u.Path, "/")
		if prefix != "" {
			if err := checkPath(prefix); err != nil {
				return nil, bad("prefix " + err.Error())
			}
		}
		return openGS(ctx, u.Host, prefix, cfg.GS)
	case "local":
		if u.Opaque != "" || u.Host != "" || !strings.HasPrefix(u.Path, "/") {
			return nil, bad("local path must be absolute, as local:///abs/path")
		}
		return openLocal(path.Clean(u.Path), cfg.ReadOnly), nil
	case "":
		return nil, bad("missing scheme")
	default:
		return nil, bad(fmt.Sprintf("unsupported scheme %q", u.Scheme))
	}
}

// safeURI strips any userinfo so an error can name the URI.
func safeURI(uri string) string {
	i := strings.Index(uri, "://")
	if i < 0 {
		return uri
	}
	rest := uri[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		return uri[:i+3] + "<credentials>@" + rest[at+1:]
	}
	return uri
}

// checkKey validates an object key: a relative slash-separated path whose
// elements are not empty, "." or "..", and which does not name a store's
// temporary file.
func checkKey(key string) error {
	if err := checkPath(key); err != nil {
		return newError(fmt.Sprintf("key %q: %v", key, err), ErrInvalidKey)
	}
	return nil
}

func checkPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("is empty")
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("must be relative")
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("contains NUL")
	}
	for _, el := range strings.Split(p, "/") {
		switch {
		case el == "" || el == "." || el == "..":
			return fmt.Errorf("has an empty, \".\" or \"..\" element")
		case strings.HasPrefix(el, tmpPrefix):
			return fmt.Errorf("element %q uses the reserved prefix %q", el, tmpPrefix)
		}
	}
	return nil
}

// checkPrefix validates a List prefix: "" or a key prefix whose complete
// elements (those before the last slash) are valid.
func checkPrefix(prefix string) error {
	i := strings.LastIndex(prefix, "/")
	if i < 0 {
		return nil
	}
	if err := checkPath(prefix[:i]); err != nil {
		return newError(fmt.Sprintf("list prefix %q: %v", prefix, err), ErrInvalidKey)
	}
	return nil
}
