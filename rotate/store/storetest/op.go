package storetest

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// ConnectToken is the only access token the fake Connect server takes.
const ConnectToken = "connect-test-token"

// ConnectEnv points stackctl at a fake Connect server at url, with its
// token, as 1Password's tools read them.
func ConnectEnv(url string) []string {
	return []string{"OP_CONNECT_HOST=" + url, "OP_CONNECT_TOKEN=" + ConnectToken}
}

// NewConnect is a fake 1Password Connect server with no vaults.
func NewConnect() *Connect {
	return &Connect{vaults: map[string]string{}, items: map[string]map[string]any{}}
}

// Connect speaks the 1Password Connect server REST API for the calls
// stackctl makes, as its API reference documents them: GET /v1/vaults
// (filter name eq "NAME"), GET /v1/vaults/{vaultUUID}/items (filter title
// eq "TITLE"), GET and PUT /v1/vaults/{vaultUUID}/items/{itemUUID} (a
// FullItem: id, title, version, vault.id, category, fields with id, label,
// type, purpose, value, section), the bearer token, and error bodies
// {"status": N, "message": "..."} with 400, 401, 404. A PUT replaces the
// item and makes its next version; fields sent without an ID get one.
type Connect struct {
	mu     sync.Mutex
	vaults map[string]string         // UUID -> name
	items  map[string]map[string]any // item UUID -> FullItem, as JSON decodes it
}

// Put sets fields (label -> value) of the item titled title in the vault
// named vault, as a person editing it in 1Password would, creating the
// vault, the item and the fields that do not exist yet. The item's version
// goes up by one. It returns the vault's and the item's UUIDs.
func (f *Connect) Put(vault, title string, fields map[string]string) (vaultID, itemID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, name := range f.vaults {
		if name == vault {
			vaultID = id
		}
	}
	if vaultID == "" {
		vaultID = opUUID()
		f.vaults[vaultID] = vault
	}
	item := f.find(vaultID, title)
	if item == nil {
		item = map[string]any{"id": opUUID(), "title": title, "version": 0.0, "vault": map[string]any{"id": vaultID}, "category": "LOGIN",
			"favorite": false, "tags": []any{"stackctl-test"}, "fields": []any{}, "createdAt": time.Now().UTC().Format(time.RFC3339)}
		f.items[item["id"].(string)] = item
	}
	for label, value := range fields {
		var field map[string]any
		for _, x := range item["fields"].([]any) {
			if x := x.(map[string]any); x["label"] == label {
				field = x
			}
		}
		if field == nil {
			field = map[string]any{"id": opUUID(), "label": label, "type": "STRING"}
			if label == "password" {
				field["id"], field["type"], field["purpose"] = "password", "CONCEALED", "PASSWORD"
			}
			item["fields"] = append(item["fields"].([]any), field)
		}
		field["value"] = value
	}
	item["version"] = item["version"].(float64) + 1
	item["updatedAt"] = time.Now().UTC().Format(time.RFC3339)
	return vaultID, item["id"].(string)
}

// Item is a copy of the item titled title in the vault named vault, as a
// GET returns it (nil if there is none).
func (f *Connect) Item(vault, title string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, name := range f.vaults {
		if name == vault {
			if item := f.find(id, title); item != nil {
				var cp map[string]any
				b, _ := json.Marshal(item)
				json.Unmarshal(b, &cp)
				return cp
			}
		}
	}
	return nil
}

// Field is the value of the field labelled label of an item, and the
// item's version.
func (f *Connect) Field(vault, title, label string) (value string, version int) {
	item := f.Item(vault, title)
	if item == nil {
		return "", 0
	}
	for _, x := range item["fields"].([]any) {
		if x := x.(map[string]any); x["label"] == label {
			value, _ = x["value"].(string)
		}
	}
	return value, int(item["version"].(float64))
}

func (f *Connect) find(vaultID, title string) map[string]any {
	for _, item := range f.items {
		if item["vault"].(map[string]any)["id"] == vaultID && item["title"] == title {
			return item
		}
	}
	return nil
}

var (
	nameEq  = regexp.MustCompile(`^name eq "(.*)"$`)
	titleEq = regexp.MustCompile(`^title eq "(.*)"$`)
	itemsAt = regexp.MustCompile(`^/v1/vaults/([a-z0-9]{26})/items(?:/([a-z0-9]{26}))?$`)
)

func (f *Connect) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fail := func(status int, msg string) {
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"status":%d,"message":%q}`, status, msg)
	}
	if r.Header.Get("Authorization") != "Bearer "+ConnectToken {
		fail(http.StatusUnauthorized, "Invalid token signature")
		return
	}
	filter := r.URL.Query().Get("filter")
	unquote := func(s string) string { return strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(s) }
	if r.URL.Path == "/v1/vaults" && r.Method == http.MethodGet {
		m := nameEq.FindStringSubmatch(filter)
		if filter != "" && m == nil {
			fail(http.StatusBadRequest, "Invalid filter")
			return
		}
		list := []any{}
		for id, name := range f.vaults {
			if m == nil || name == unquote(m[1]) {
				list = append(list, map[string]any{"id": id, "name": name, "type": "USER_CREATED", "attributeVersion": 1, "contentVersion": len(f.items)})
			}
		}
		json.NewEncoder(w).Encode(list)
		return
	}
	at := itemsAt.FindStringSubmatch(r.URL.Path)
	if at == nil {
		fail(http.StatusNotFound, "Not found")
		return
	}
	if _, ok := f.vaults[at[1]]; !ok {
		fail(http.StatusNotFound, "Vault not found")
		return
	}
	if at[2] == "" && r.Method == http.MethodGet {
		m := titleEq.FindStringSubmatch(filter)
		if filter != "" && m == nil {
			fail(http.StatusBadRequest, "Invalid filter")
			return
		}
		list := []any{}
		for _, item := range f.items {
			if item["vault"].(map[string]any)["id"] == at[1] && (m == nil || item["title"] == unquote(m[1])) {
				summary := map[string]any{}
				for k, v := range item {
					if k != "fields" && k != "sections" {
						summary[k] = v
					}
				}
				list = append(list, summary)
			}
		}
		json.NewEncoder(w).Encode(list)
		return
	}
	item, ok := f.items[at[2]]
	if !ok || item["vault"].(map[string]any)["id"] != at[1] {
		fail(http.StatusNotFound, "Item not found")
		return
	}
	switch r.Method {
	case http.MethodGet:
		json.NewEncoder(w).Encode(item)
	case http.MethodPut:
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			fail(http.StatusBadRequest, "Invalid item")
			return
		}
		vault, _ := body["vault"].(map[string]any)
		fields, ok := body["fields"].([]any)
		if body["id"] != at[2] || vault == nil || vault["id"] != at[1] || !ok {
			fail(http.StatusBadRequest, "Invalid item: the item's id and vault must match the path")
			return
		}
		for _, x := range fields {
			field, ok := x.(map[string]any)
			if !ok || field["type"] == nil {
				fail(http.StatusBadRequest, "Invalid item: a field has no type")
				return
			}
			if id, _ := field["id"].(string); id == "" {
				field["id"] = opUUID()
			}
		}
		body["version"] = item["version"].(float64) + 1
		body["updatedAt"] = time.Now().UTC().Format(time.RFC3339)
		f.items[at[2]] = body
		json.NewEncoder(w).Encode(body)
	default:
		fail(http.StatusMethodNotAllowed, "Method not allowed")
	}
}

// opUUID is a new 1Password UUID: 26 lowercase letters and digits.
func opUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}
