package gcstest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/objstore"
)

// Auth is Google's side of credentials in front of a Server: a token
// endpoint that grants access tokens for the service account keys it has
// issued (OAuth 2.0 JWT bearer grant, the assertion's RS256 signature
// checked, as oauth2.googleapis.com/token does), and the storage API behind
// a check of every request's token (401 without a valid one, 403 for an
// account denied access). Point a GSConfig at Endpoint with a key from
// ServiceAccount.
type Auth struct {
	Endpoint string // http://127.0.0.1:PORT: the API, and /token

	srv    *Server
	ln     net.Listener
	server *http.Server
	proxy  *httputil.ReverseProxy

	mu       sync.Mutex
	keys     map[string]*rsa.PublicKey // account email -> its key
	tokens   map[string]string         // access token -> account email
	denied   map[string]bool           // accounts refused (403)
	requests int                       // API requests let through
}

// NewAuth starts an Auth in front of srv, stopped when t's test ends.
func NewAuth(t testing.TB, srv *Server) *Auth {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &Auth{
		Endpoint: "http://" + ln.Addr().String(),
		srv:      srv,
		ln:       ln,
		keys:     map[string]*rsa.PublicKey{},
		tokens:   map[string]string{},
		denied:   map[string]bool{},
	}
	a.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			target, _ := url.Parse(a.srv.Endpoint)
			r.SetURL(target)
			r.Out.Host = target.Host // the server's public host
		},
		// Uploads continue at the session URL the server hands out: keep
		// them coming through here.
		ModifyResponse: func(resp *http.Response) error {
			if loc := resp.Header.Get("Location"); strings.HasPrefix(loc, a.srv.Endpoint) {
				resp.Header.Set("Location", a.Endpoint+strings.TrimPrefix(loc, a.srv.Endpoint))
			}
			return nil
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", a.token)
	mux.HandleFunc("/", a.api)
	a.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go a.server.Serve(ln)
	t.Cleanup(func() { a.server.Close() })
	return a
}

// TokenURL is where the keys of this Auth get their tokens.
func (a *Auth) TokenURL() string { return a.Endpoint + "/token" }

// ServiceAccount issues a new key for the account email (any earlier key of
// it stops working) and returns the credentials JSON a GCP console would
// give, with token_uri pointing here.
func (a *Auth) ServiceAccount(t testing.TB, email string) []byte {
	t.Helper()
	key, js := newKeyJSON(t, email, a.TokenURL())
	a.mu.Lock()
	a.keys[email] = &key.PublicKey
	a.mu.Unlock()
	return js
}

// ForeignKey returns a credentials JSON for email whose key this Auth never
// issued: its token requests are refused (invalid_grant, as Google refuses
// a deleted key).
func (a *Auth) ForeignKey(t testing.TB, email string) []byte {
	t.Helper()
	_, js := newKeyJSON(t, email, a.TokenURL())
	return js
}

// Deny makes the API refuse the account's requests (403), as for an account
// without a role on the bucket.
func (a *Auth) Deny(email string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.denied[email] = true
}

// Requests is how many API requests went through with a valid token.
func (a *Auth) Requests() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.requests
}

// Config is the objstore configuration that reaches the server through
// this Auth with the given credentials JSON.
func (a *Auth) Config(credentials []byte) objstore.Config {
	return objstore.Config{GS: objstore.GSConfig{Endpoint: a.Endpoint, Credentials: string(credentials)}}
}

func newKeyJSON(t testing.TB, email, tokenURL string) (*rsa.PrivateKey, []byte) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.MarshalIndent(map[string]string{
		"type":                        "service_account",
		"project_id":                  Project,
		"private_key_id":              randHex(20),
		"private_key":                 string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":                email,
		"client_id":                   "1" + randHex(10),
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   tokenURL,
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"universe_domain":             "googleapis.com",
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return key, js
}

// token answers a JWT bearer grant.
func (a *Auth) token(w http.ResponseWriter, r *http.Request) {
	refuse := func(desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": desc})
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		refuse("Invalid grant_type.")
		return
	}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) != 3 {
		refuse("Invalid JWT.")
		return
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err2 := base64.RawURLEncoding.DecodeString(parts[2])
	var claims struct {
		Iss   string `json:"iss"`
		Aud   string `json:"aud"`
		Scope string `json:"scope"`
		Exp   int64  `json:"exp"`
	}
	if err1 != nil || err2 != nil || json.Unmarshal(payload, &claims) != nil {
		refuse("Invalid JWT.")
		return
	}
	a.mu.Lock()
	pub := a.keys[claims.Iss]
	a.mu.Unlock()
	if pub == nil {
		refuse("Invalid grant: account not found")
		return
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) != nil {
		refuse("Invalid JWT Signature.")
		return
	}
	if claims.Aud != a.TokenURL() || claims.Exp < time.Now().Unix() || !strings.Contains(claims.Scope, "devstorage") {
		refuse(fmt.Sprintf("Invalid JWT: aud %q, exp %d, scope %q", claims.Aud, claims.Exp, claims.Scope))
		return
	}
	tok := "ya29.test-" + randHex(24)
	a.mu.Lock()
	a.tokens[tok] = claims.Iss
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
}

// api lets a request with a valid token through to the server.
func (a *Auth) api(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	a.mu.Lock()
	email, known := a.tokens[tok]
	denied := a.denied[email]
	if ok && known && !denied {
		a.requests++
	}
	a.mu.Unlock()
	switch {
	case !ok || !known:
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
		gcsError(w, http.StatusUnauthorized, "required", "Anonymous caller does not have storage.objects.list access to the Google Cloud Storage bucket. Invalid Credentials.")
		return
	case denied:
		gcsError(w, http.StatusForbidden, "forbidden", email+" does not have storage.objects.list access to the Google Cloud Storage bucket. Permission 'storage.objects.list' denied on resource (or it may not exist).")
		return
	}
	r.Header.Del("Authorization")
	a.proxy.ServeHTTP(w, r)
}
