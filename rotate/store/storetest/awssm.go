// Package storetest holds fakes of the secret stores' HTTP APIs, for the
// calls stackctl makes, as each store's API reference documents them.
// Real servers prove the real thing where one can be run here (Vault);
// these prove the stores whose servers cannot.
package storetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// AccessKeyID is the only access key the fake takes.
const AccessKeyID = "AKIDTEST"

// NewSecretsManager is an empty fake.
func NewSecretsManager() *SecretsManager {
	return &SecretsManager{versions: map[string][]smVersion{}}
}

// Put adds a version of a secret (a new secret, or its next version),
// with the given version ID, and makes it current.
func (f *SecretsManager) Put(name, id, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if vs := f.versions[name]; len(vs) > 0 {
		created = vs[len(vs)-1].created.Add(time.Minute)
	}
	f.versions[name] = append(f.versions[name], smVersion{id, value, created})
}

// Current is a secret's current version ID and value.
func (f *SecretsManager) Current(name string) (id, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	vs := f.versions[name]
	if len(vs) == 0 {
		return "", ""
	}
	return vs[len(vs)-1].id, vs[len(vs)-1].value
}

// Versions is how many versions a secret has.
func (f *SecretsManager) Versions(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.versions[name])
}

// Env points the AWS SDK at the fake at url, with the fake's credentials
// and no shared files or instance metadata.
func Env(url string) []string {
	return []string{"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + url, "AWS_REGION=eu-west-1", "AWS_ACCESS_KEY_ID=" + AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=test", "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent", "AWS_EC2_METADATA_DISABLED=true"}
}

// SecretsManager speaks the AWS Secrets Manager JSON 1.1 protocol for the
// calls stackctl makes (GetSecretValue, PutSecretValue, ListSecretVersionIds:
// X-Amz-Target, the request and response fields of the API reference), so
// that tests run the AWS SDK's own code path, as users do, against it.
// Requests must be signed with the access key ID AccessKeyID.
type SecretsManager struct {
	mu       sync.Mutex
	versions map[string][]smVersion // name -> versions, oldest first
}

type smVersion struct {
	id, value string
	created   time.Time
}

func (f *SecretsManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	fail := func(code, msg string) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"__type":%q,"message":%q}`, code, msg)
	}
	if !strings.Contains(r.Header.Get("Authorization"), "Credential="+AccessKeyID+"/") {
		fail("UnrecognizedClientException", "The security token included in the request is invalid.")
		return
	}
	var in struct{ SecretId, VersionId, SecretString, ClientRequestToken string }
	json.NewDecoder(r.Body).Decode(&in)
	vs, ok := f.versions[in.SecretId]
	if !ok {
		fail("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	switch strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "secretsmanager.") {
	case "GetSecretValue":
		v := vs[len(vs)-1]
		for _, x := range vs {
			if x.id == in.VersionId {
				v = x
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"Name": in.SecretId, "VersionId": v.id, "SecretString": v.value, "CreatedDate": v.created.Unix()})
	case "PutSecretValue":
		f.versions[in.SecretId] = append(vs, smVersion{in.ClientRequestToken, in.SecretString, vs[len(vs)-1].created.Add(time.Minute)})
		json.NewEncoder(w).Encode(map[string]any{"Name": in.SecretId, "VersionId": in.ClientRequestToken})
	case "ListSecretVersionIds":
		var list []map[string]any
		for _, x := range vs {
			list = append(list, map[string]any{"VersionId": x.id, "CreatedDate": x.created.Unix()})
		}
		json.NewEncoder(w).Encode(map[string]any{"Name": in.SecretId, "Versions": list})
	default:
		fail("InvalidAction", "not in the fake")
	}
}
