package storetest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// GoogleToken is the OAuth 2 access token the fake takes for everything;
// GoogleReadToken may access versions but not add them.
const (
	GoogleToken     = "ya29.test-token"
	GoogleReadToken = "ya29.test-read-only"
)

// googleProjectNumber is the number the fake gives every project: Secret
// Manager names resources by project number whichever way they were asked.
const googleProjectNumber = "123456789012"

// NewGoogleSecretManager is an empty fake.
func NewGoogleSecretManager() *GoogleSecretManager {
	return &GoogleSecretManager{secrets: map[string][]gsmVersion{}}
}

// Add adds a version, enabled, to a secret (a new secret, or its next
// version) and returns its number.
func (f *GoogleSecretManager) Add(project, name, value string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.add(project+"/"+name, []byte(value))
}

// SetState makes a version ENABLED, DISABLED or DESTROYED.
func (f *GoogleSecretManager) SetState(project, name string, version int, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets[project+"/"+name][version-1].state = state
}

// Latest is a secret's latest version number and value.
func (f *GoogleSecretManager) Latest(project, name string) (int, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	vs := f.secrets[project+"/"+name]
	if len(vs) == 0 {
		return 0, ""
	}
	return len(vs), string(vs[len(vs)-1].data)
}

// GoogleEnv points stackctl at the fake at url, with the fake's token
// (so no Application Default Credentials are looked for).
func GoogleEnv(url string) []string {
	return []string{"CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER=" + url + "/", "GOOGLE_OAUTH_ACCESS_TOKEN=" + GoogleToken}
}

// GoogleSecretManager speaks the Secret Manager REST API v1 for the calls
// stackctl makes, as its reference documents them:
//
//	GET  /v1/projects/P/secrets/N/versions/V:access -> AccessSecretVersionResponse
//	POST /v1/projects/P/secrets/N:addVersion        -> SecretVersion
//
// with the payload's data in base64 and its CRC32C (an int64 as a JSON
// string), versions numbered one by one (latest: the last created,
// whatever its state), enums as numbers when $alt asks for
// enum-encoding=int, and errors as Google's JSON error with the status
// codes the service answers: 401 UNAUTHENTICATED without a valid bearer
// token, 403 PERMISSION_DENIED, 404 NOT_FOUND, 400 FAILED_PRECONDITION
// for a disabled or destroyed version, 400 INVALID_ARGUMENT for a wrong
// checksum. So tests run Google's own Go client library against it.
type GoogleSecretManager struct {
	mu      sync.Mutex
	secrets map[string][]gsmVersion // PROJECT/NAME -> versions, number 1 first
	corrupt bool
}

// Corrupt makes the fake answer every access with a checksum that does
// not match the data, as a payload damaged on the way would.
func (f *GoogleSecretManager) Corrupt() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.corrupt = true
}

type gsmVersion struct {
	data    []byte
	state   string
	created time.Time
}

var gsmStates = map[string]int{"ENABLED": 1, "DISABLED": 2, "DESTROYED": 3}

func (f *GoogleSecretManager) add(key string, data []byte) int {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(len(f.secrets[key])) * time.Minute)
	f.secrets[key] = append(f.secrets[key], gsmVersion{data: data, state: "ENABLED", created: created})
	return len(f.secrets[key])
}

func (f *GoogleSecretManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	fail := func(code int, status, msg string) {
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status}})
	}
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if token != GoogleToken && token != GoogleReadToken {
		fail(http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return
	}
	intEnums := strings.Contains(r.URL.Query().Get("$alt"), "enum-encoding=int")
	// projects/P/secrets/N then /versions/V:access or :addVersion
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v1/"), "/")
	if len(parts) < 4 || parts[0] != "projects" || parts[2] != "secrets" {
		fail(http.StatusNotFound, "NOT_FOUND", "The requested URL was not found on this server.")
		return
	}
	project := parts[1]
	name, action, _ := strings.Cut(parts[3], ":")
	secret := "projects/" + googleProjectNumber + "/secrets/" + name
	vs, ok := f.secrets[project+"/"+name]
	version := func(n int) map[string]any {
		state := any(vs[n-1].state)
		if intEnums {
			state = gsmStates[vs[n-1].state]
		}
		return map[string]any{"name": fmt.Sprintf("%s/versions/%d", secret, n), "createTime": vs[n-1].created.Format(time.RFC3339Nano),
			"state": state, "etag": fmt.Sprintf("%q", strconv.Itoa(n)), "clientSpecifiedPayloadChecksum": true}
	}
	switch {
	case r.Method == http.MethodGet && len(parts) == 6 && parts[4] == "versions" && strings.HasSuffix(parts[5], ":access"):
		if !ok {
			fail(http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("Secret [%s] not found or has no versions.", secret))
			return
		}
		v := strings.TrimSuffix(parts[5], ":access")
		n, err := strconv.Atoi(v)
		if v == "latest" {
			n, err = len(vs), nil
		}
		if err != nil || n < 1 || n > len(vs) {
			fail(http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("Secret Version [%s/versions/%s] not found.", secret, v))
			return
		}
		if st := vs[n-1].state; st != "ENABLED" {
			fail(http.StatusBadRequest, "FAILED_PRECONDITION", fmt.Sprintf("Secret Version [%s/versions/%d] is in %s state.", secret, n, st))
			return
		}
		data := vs[n-1].data
		sum := crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))
		if f.corrupt {
			sum++
		}
		json.NewEncoder(w).Encode(map[string]any{"name": fmt.Sprintf("%s/versions/%d", secret, n),
			"payload": map[string]any{"data": base64.StdEncoding.EncodeToString(data), "dataCrc32c": strconv.FormatUint(uint64(sum), 10)}})
	case r.Method == http.MethodPost && len(parts) == 4 && action == "addVersion":
		if token != GoogleToken {
			fail(http.StatusForbidden, "PERMISSION_DENIED", fmt.Sprintf("Permission 'secretmanager.versions.add' denied for resource 'projects/%s/secrets/%s' (or it may not exist).", project, name))
			return
		}
		if !ok {
			fail(http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("Secret [%s] not found.", secret))
			return
		}
		var in struct {
			Payload struct {
				Data       []byte          `json:"data"`
				DataCrc32c json.RawMessage `json:"dataCrc32c"`
			} `json:"payload"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			fail(http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received.")
			return
		}
		if len(in.Payload.DataCrc32c) > 0 {
			sum, err := strconv.ParseInt(strings.Trim(string(in.Payload.DataCrc32c), `"`), 10, 64)
			if err != nil || sum != int64(crc32.Checksum(in.Payload.Data, crc32.MakeTable(crc32.Castagnoli))) {
				fail(http.StatusBadRequest, "INVALID_ARGUMENT", "Checksum mismatch: the data_crc32c field does not match the payload.")
				return
			}
		}
		n := f.add(project+"/"+name, in.Payload.Data)
		vs = f.secrets[project+"/"+name]
		json.NewEncoder(w).Encode(version(n))
	default:
		fail(http.StatusNotFound, "NOT_FOUND", "The requested URL was not found on this server.")
	}
}
