package storetest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The service principal the Azure fake knows: AzureClientID may read and
// write every secret, AzureClientNoAccess signs in (with the same secret)
// but has no access policy on the vault.
const (
	AzureTenantID       = "8f3c0a52-6b1e-4c2d-9a7f-0d4e5b6c7a10"
	AzureClientID       = "2b7d9e41-3c5a-4f60-8e12-a9b8c7d6e5f4"
	AzureClientNoAccess = "c0ffee00-0000-4000-8000-00000000dead"
	AzureClientSecret   = "fake-client-secret"
)

// keyVaultResource is the resource Key Vault's sign-in challenge names
// in Azure's public cloud.
const keyVaultResource = "https://vault.azure.net"

// NewKeyVault is an empty fake, which lists versions PageSize to a page.
func NewKeyVault() *KeyVault {
	return &KeyVault{secrets: map[string][]kvVersion{}, tokens: map[string]string{}, PageSize: 25}
}

// KeyVault speaks, over TLS, both halves of what the Azure SDK calls to
// read and write a Key Vault secret, as their references document them:
//
//   - Microsoft Entra ID's OAuth 2.0 client credentials grant for a
//     service principal with a client secret: the OpenID configuration
//     (GET /TENANT/v2.0/.well-known/openid-configuration) and the token
//     endpoint (POST /TENANT/oauth2/v2.0/token), errors as
//     {error, error_description, error_codes};
//   - Key Vault's secrets REST API: GET /secrets/NAME/[VERSION],
//     GET /secrets/NAME/versions (paged by nextLink), PUT /secrets/NAME,
//     errors as {error: {code, message}}; a request without a bearer token
//     gets the 401 challenge (WWW-Authenticate: Bearer authorization=...,
//     resource=...) the SDK answers by getting a token for that tenant.
//
// So tests run azidentity.DefaultAzureCredential and azsecrets as users do
// (AzureEnv points them here).
type KeyVault struct {
	// PageSize is how many versions a list gives before its nextLink.
	PageSize int

	mu      sync.Mutex
	secrets map[string][]kvVersion // name -> versions, oldest first
	tokens  map[string]string      // access token -> client ID
}

type kvVersion struct {
	id, value, contentType string
	tags                   map[string]string
	created                time.Time
}

// Put adds a version of a secret (a new secret, or its next version) with
// the given tags, and returns the version ID Key Vault would make.
func (f *KeyVault) Put(name, value string, tags map[string]string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.put(name, value, "", tags)
}

func (f *KeyVault) put(name, value, contentType string, tags map[string]string) string {
	b := make([]byte, 16)
	rand.Read(b)
	id := hex.EncodeToString(b)
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if vs := f.secrets[name]; len(vs) > 0 {
		created = vs[len(vs)-1].created.Add(time.Minute)
	}
	f.secrets[name] = append(f.secrets[name], kvVersion{id, value, contentType, tags, created})
	return id
}

// Current is a secret's latest version: its ID, value and tags.
func (f *KeyVault) Current(name string) (id, value string, tags map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	vs := f.secrets[name]
	if len(vs) == 0 {
		return "", "", nil
	}
	v := vs[len(vs)-1]
	return v.id, v.value, v.tags
}

// Versions is how many versions a secret has.
func (f *KeyVault) Versions(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.secrets[name])
}

// AzureEnv points the Azure SDK at the fake served by srv (an
// httptest.NewTLSServer): Entra's sign-in host (AZURE_AUTHORITY_HOST), the
// service principal (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET),
// the credentials a service rather than a developer has
// (AZURE_TOKEN_CREDENTIALS=prod: no az CLI login is tried), and the fake's
// certificate, written into dir, as the roots Go trusts (SSL_CERT_FILE:
// read once, at a process's first TLS handshake).
func AzureEnv(srv *httptest.Server, dir string) ([]string, error) {
	ca := filepath.Join(dir, "azure-fake-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		return nil, err
	}
	return []string{"AZURE_AUTHORITY_HOST=" + srv.URL, "AZURE_TENANT_ID=" + AzureTenantID, "AZURE_CLIENT_ID=" + AzureClientID,
		"AZURE_CLIENT_SECRET=" + AzureClientSecret, "AZURE_TOKEN_CREDENTIALS=prod", "SSL_CERT_FILE=" + ca}, nil
}

// AzureVault is what to write as VAULT in azkv://VAULT/NAME for the fake
// served by srv: its host and port.
func AzureVault(srv *httptest.Server) string {
	return strings.TrimPrefix(srv.URL, "https://")
}

func (f *KeyVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	base := "https://" + r.Host
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/"+AzureTenantID+"/v2.0/.well-known/openid-configuration":
		tenant := base + "/" + AzureTenantID
		kvJSON(w, http.StatusOK, map[string]any{"token_endpoint": tenant + "/oauth2/v2.0/token", "authorization_endpoint": tenant + "/oauth2/v2.0/authorize",
			"issuer": tenant + "/v2.0", "token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"}})
	case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
		f.token(w, r)
	case strings.HasPrefix(r.URL.Path, "/secrets/"):
		f.keyVault(w, r, base)
	default:
		http.NotFound(w, r)
	}
}

// token is Entra's token endpoint, for the client credentials grant.
func (f *KeyVault) token(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code string, aadsts int, desc string) {
		kvJSON(w, status, map[string]any{"error": code, "error_description": fmt.Sprintf("AADSTS%d: %s", aadsts, desc), "error_codes": []int{aadsts},
			"timestamp": "2026-01-01 00:00:00Z", "trace_id": "00000000-0000-0000-0000-000000000000", "correlation_id": "00000000-0000-0000-0000-000000000000"})
	}
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		fail(http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	client := r.PostForm.Get("client_id")
	switch {
	case r.URL.Path != "/"+AzureTenantID+"/oauth2/v2.0/token":
		fail(http.StatusBadRequest, "invalid_request", 90002, "Tenant not found.")
	case r.PostForm.Get("grant_type") != "client_credentials":
		fail(http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
	case client != AzureClientID && client != AzureClientNoAccess:
		fail(http.StatusBadRequest, "unauthorized_client", 700016, "Application with identifier was not found in the directory.")
	case r.PostForm.Get("client_secret") != AzureClientSecret:
		fail(http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.")
	case !kvScope(r.PostForm.Get("scope")):
		fail(http.StatusBadRequest, "invalid_scope", 1002012, "The provided value for scope is not valid.")
	default:
		b := make([]byte, 24)
		rand.Read(b)
		token := "fake-" + hex.EncodeToString(b)
		f.tokens[token] = client
		kvJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token})
	}
}

// kvScope: the scope asked for is Key Vault's resource, besides the
// OpenID Connect scopes (openid, profile, offline_access) Entra allows
// along with one resource.
func kvScope(scope string) bool {
	n := 0
	for _, s := range strings.Fields(scope) {
		switch s {
		case "openid", "profile", "offline_access":
		case keyVaultResource + "/.default":
			n++
		default:
			return false
		}
	}
	return n == 1
}

// keyVault is Key Vault's secrets API.
func (f *KeyVault) keyVault(w http.ResponseWriter, r *http.Request, base string) {
	fail := func(status int, code, msg string) {
		kvJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
	}
	if r.URL.Query().Get("api-version") == "" {
		fail(http.StatusBadRequest, "BadParameter", "The 'api-version' query parameter is missing.")
		return
	}
	token, bearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	client, known := f.tokens[token]
	if !bearer || !known {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization="%s/%s", resource="%s"`, base, AzureTenantID, keyVaultResource))
		msg := "AKV10000: Request is missing a Bearer or PoP token."
		if bearer {
			msg = "AKV10032: Invalid issuer."
		}
		fail(http.StatusUnauthorized, "Unauthorized", msg)
		return
	}
	if client != AzureClientID {
		kvJSON(w, http.StatusForbidden, map[string]any{"error": map[string]any{"code": "Forbidden", "innererror": map[string]any{"code": "AccessDenied"},
			"message": fmt.Sprintf("The user, group or application 'appid=%s' does not have secrets get permission on key vault. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287", client)}})
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/secrets/"), "/")
	name := parts[0]
	vs := f.secrets[name]
	notFound := func(what string) {
		fail(http.StatusNotFound, "SecretNotFound", fmt.Sprintf("A secret with (name/id) %s was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182", what))
	}
	switch {
	case r.Method == http.MethodPut && len(parts) == 1:
		var in struct {
			Value       *string           `json:"value"`
			ContentType string            `json:"contentType"`
			Tags        map[string]string `json:"tags"`
		}
		if json.NewDecoder(r.Body).Decode(&in) != nil || in.Value == nil {
			fail(http.StatusBadRequest, "BadParameter", "The request body must hold the secret's value.")
			return
		}
		f.put(name, *in.Value, in.ContentType, in.Tags)
		vs = f.secrets[name]
		kvJSON(w, http.StatusOK, kvBundle(base, name, vs[len(vs)-1], true))
	case r.Method == http.MethodGet && len(parts) == 2 && parts[1] == "versions":
		if len(vs) == 0 {
			notFound(name)
			return
		}
		skip, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
		list := []map[string]any{}
		for i := skip; i < len(vs) && i < skip+f.PageSize; i++ {
			list = append(list, kvBundle(base, name, vs[i], false))
		}
		var next any
		if skip+f.PageSize < len(vs) {
			next = fmt.Sprintf("%s/secrets/%s/versions?api-version=%s&$skiptoken=%d&maxresults=%d", base, name, r.URL.Query().Get("api-version"), skip+f.PageSize, f.PageSize)
		}
		kvJSON(w, http.StatusOK, map[string]any{"value": list, "nextLink": next})
	case r.Method == http.MethodGet && (len(parts) == 1 || len(parts) == 2):
		if len(vs) == 0 {
			notFound(name)
			return
		}
		if len(parts) == 1 || parts[1] == "" {
			kvJSON(w, http.StatusOK, kvBundle(base, name, vs[len(vs)-1], true))
			return
		}
		for _, v := range vs {
			if v.id == parts[1] {
				kvJSON(w, http.StatusOK, kvBundle(base, name, v, true))
				return
			}
		}
		notFound(name + "/" + parts[1])
	default:
		fail(http.StatusMethodNotAllowed, "BadParameter", "not in the fake")
	}
}

// kvBundle is a secret version as Key Vault gives it: with its value (a
// SecretBundle) or without (a SecretItem, in lists).
func kvBundle(base, name string, v kvVersion, value bool) map[string]any {
	b := map[string]any{"id": base + "/secrets/" + name + "/" + v.id,
		"attributes": map[string]any{"enabled": true, "created": v.created.Unix(), "updated": v.created.Unix(), "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90}}
	if v.contentType != "" {
		b["contentType"] = v.contentType
	}
	if len(v.tags) > 0 {
		b["tags"] = v.tags
	}
	if value {
		b["value"] = v.value
	}
	return b
}

func kvJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
