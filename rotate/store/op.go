package store

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stackctl/stackctl/compose"
)

// onePassword reads and writes 1Password items (op://VAULT/ITEM/FIELD)
// through a 1Password Connect server, as a CI or server deployment reaches
// 1Password: VAULT and ITEM are names or UUIDs, as in 1Password's secret
// references, FIELD a field's label or ID.
//
// The client is these few calls of the Connect REST API, over net/http,
// not 1Password's Go SDK for Connect (github.com/1Password/connect-sdk-go
// v1.5.3, its last release). Measured on this build: the SDK adds 962,560
// bytes to the binary and 26 packages, 24 of them a tracing stack (the
// deprecated uber/jaeger-client-go with its thrift code, opentracing,
// jaeger-lib, go.uber.org/atomic), as every client it makes installs a
// global Jaeger tracer (a remote sampler and a UDP span reporter on
// localhost) and adds tracing headers to every request; this client adds
// 28,672 bytes and no package. The SDK is also unfit for writing: its
// calls take no context (no cancel, no timeout: http.DefaultClient), and
// an update sends back its own Item struct, which drops the attributes it
// does not model (the item's state, ...) and turns every category it does
// not know into CUSTOM, so a rotate could change an item beyond the one
// field. This client sends the item back as read, with only the field and
// stackctl's marker (below) changed.
//
// Version identity. Connect gives an item's version (one more on every
// edit of any field) but no history of old values, so the value's first
// version cannot be found by walking back as for Vault and AWS. Instead
// rotate keeps, next to FIELD, a concealed field of the same item labelled
// "stackctl.version.<field ID>": the item version n at which FIELD got its
// value, a random key K, and HMAC(K, n, field, value). When Read finds the
// marker and its HMAC matches the value, the identity is n: an edit of
// another field, or the same value saved again, leaves it, so nothing is
// renamed; the write of a new value sets n to the version the write makes,
// a new name. When the value no longer matches the marker (it was changed
// in 1Password, outside stackctl), the identity is "h-" and a keyed hash of
// the value, keyed by K, which only the store holds: same value, same name,
// whatever else changes, and a new value gets a new one; never a hash of
// the value alone. With no marker at all (an item stackctl has never
// written) the identity is the item's version: a new value is a new name,
// but so is an edit of another field (the secret rolls once, same value)
// until a rotate writes the marker; `stackctl rotate --stdin` with the
// current value writes just the marker, naming it by the current version.
// A decimal identity n always means "the value the item held at version
// n", so two values never share a name.
//
// Next is the item version after current: Connect's update makes version
// current+1. Write reads the item again and refuses if its version is no
// longer the one read; Connect's update replaces the whole item and has
// no documented version check, so, as for AWS, the window left is between
// that read and the update.
type onePassword struct {
	host, token string
	client      *http.Client
	ids         map[string][2]string // ref.Path -> vault and item UUID
}

// newOnePassword connects as 1Password's Connect tools (the op CLI, the
// Connect SDKs, the Kubernetes operator) do: OP_CONNECT_HOST, the Connect
// server's URL, and OP_CONNECT_TOKEN, its access token.
func newOnePassword(getenv func(string) string) (*onePassword, error) {
	host, token := strings.TrimRight(getenv("OP_CONNECT_HOST"), "/"), getenv("OP_CONNECT_TOKEN")
	if host == "" || token == "" {
		hint := ""
		if getenv("OP_SERVICE_ACCOUNT_TOKEN") != "" {
			hint = " (OP_SERVICE_ACCOUNT_TOKEN is set, but this build reaches 1Password through a Connect server only)"
		}
		return nil, fmt.Errorf("no 1Password Connect server: set OP_CONNECT_HOST to its URL and OP_CONNECT_TOKEN to its access token%s", hint)
	}
	if u, err := url.Parse(host); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("OP_CONNECT_HOST is not a URL: set it to the Connect server's, like http://connect:8080")
	}
	return &onePassword{host: host, token: token, client: &http.Client{Timeout: 30 * time.Second}, ids: map[string][2]string{}}, nil
}

// opItem is what stackctl reads of a Connect FullItem; raw is all of it.
type opItem struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Version int    `json:"version"`
	Fields  []struct {
		ID    string `json:"id"`
		Label string `json:"label"`
		Value string `json:"value"`
	} `json:"fields"`
	raw []byte
}

func (o *onePassword) Read(ctx context.Context, ref *compose.StoreRef) (Value, error) {
	item, err := o.item(ctx, ref)
	if err != nil {
		return Value{}, err
	}
	i, err := opField(item, ref)
	if err != nil {
		return Value{}, err
	}
	id, _ := opIdentity(item, i)
	return Value{Data: []byte(item.Fields[i].Value), Version: id, Current: strconv.Itoa(item.Version)}, nil
}

// Next: Connect numbers an item's versions one by one.
func (o *onePassword) Next(current string) string {
	n, _ := strconv.Atoi(current)
	return strconv.Itoa(n + 1)
}

func (o *onePassword) Write(ctx context.Context, ref *compose.StoreRef, data []byte, prev, _ string) (string, error) {
	item, err := o.item(ctx, ref)
	if err != nil {
		return "", err
	}
	if prev != "" && strconv.Itoa(item.Version) != prev {
		return "", &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("the 1Password item is at version %d, not %s as read (another writer went first): nothing was written; run it again", item.Version, prev)}
	}
	i, err := opField(item, ref)
	if err != nil {
		return "", err
	}
	f := item.Fields[i]
	id, marked := opIdentity(item, i)
	n := item.Version + 1
	if string(data) == f.Value {
		if marked {
			return id, nil // the same value again: no new version, the name stays
		}
		n = item.Version // unmarked: mark the version that holds the value, so the name stays
	}
	body, err := opUpdated(item, i, string(data), n)
	if err != nil {
		return "", err
	}
	var got opItem
	if err := o.call(ctx, http.MethodPut, "/v1/vaults/"+o.ids[ref.Path][0]+"/items/"+item.ID, body, &got, "item "+ref.Parts[1]+" in vault "+ref.Parts[0]); err != nil {
		return "", err
	}
	if got.Version != item.Version+1 {
		// Another write landed between the read and this one: say which
		// version the store made, so that rotate stops and says so.
		return strconv.Itoa(got.Version), nil
	}
	return strconv.Itoa(n), nil
}

// item reads the item a reference names, finding its vault and its own
// UUID by name (or taking them as UUIDs) the first time.
func (o *onePassword) item(ctx context.Context, ref *compose.StoreRef) (*opItem, error) {
	vault, title := ref.Parts[0], ref.Parts[1]
	ids, ok := o.ids[ref.Path]
	if !ok {
		var vaults []struct{ ID string }
		if err := o.call(ctx, http.MethodGet, "/v1/vaults?filter="+url.QueryEscape(`name eq "`+opQuote(vault)+`"`), nil, &vaults, "vault "+vault); err != nil {
			return nil, err
		}
		vid, err := opOne(len(vaults), func() string { return vaults[0].ID }, vault, "vault "+vault, "vaults are named "+vault)
		if err != nil {
			return nil, err
		}
		var items []struct{ ID string }
		if err := o.call(ctx, http.MethodGet, "/v1/vaults/"+vid+"/items?filter="+url.QueryEscape(`title eq "`+opQuote(title)+`"`), nil, &items, "vault "+vault); err != nil {
			return nil, err
		}
		iid, err := opOne(len(items), func() string { return items[0].ID }, title, "item "+title+" in vault "+vault, "items of vault "+vault+" are titled "+title)
		if err != nil {
			return nil, err
		}
		ids = [2]string{vid, iid}
	}
	var raw json.RawMessage
	if err := o.call(ctx, http.MethodGet, "/v1/vaults/"+ids[0]+"/items/"+ids[1], nil, &raw, "item "+title+" in vault "+vault); err != nil {
		return nil, err
	}
	item := &opItem{raw: raw}
	if err := json.Unmarshal(raw, item); err != nil {
		return nil, &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("1Password Connect at %s sent an item stackctl cannot read: check OP_CONNECT_HOST", o.host)}
	}
	o.ids[ref.Path] = ids
	return item, nil
}

// opOne is the one match of a lookup by name; a name that matches nothing
// but is spelled as a 1Password UUID (26 lowercase letters and digits) is
// taken as one.
func opOne(n int, first func() string, name, what, several string) (string, error) {
	switch {
	case n == 1:
		return first(), nil
	case n > 1:
		return "", &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("several %s: name it by its UUID in the reference", several)}
	case len(name) == 26 && strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789") == "":
		return name, nil
	}
	return "", &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("1Password has no %s that the Connect token may see: check the name, and that the token has access to the vault", what)}
}

// opQuote escapes a name inside a SCIM filter's quotes.
func opQuote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// opField is the index of the field a reference names: by ID, else by
// label (1Password's references ignore case).
func opField(item *opItem, ref *compose.StoreRef) (int, error) {
	name := ref.Parts[2]
	found := -1
	for i, f := range item.Fields {
		if f.ID == name {
			return i, nil
		}
		if strings.EqualFold(f.Label, name) {
			if found >= 0 {
				return -1, &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("the 1Password item %s has several fields labelled %s: name the field by its ID", ref.Parts[1], name)}
			}
			found = i
		}
	}
	if found < 0 {
		return -1, &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("the 1Password item %s has no field %s: check the label after the item", ref.Parts[1], name)}
	}
	return found, nil
}

// opMarkerLabel labels the field in which stackctl keeps the version at
// which field id got its value.
func opMarkerLabel(id string) string { return "stackctl.version." + id }

// opMarker is the marker of field i: its version n, its key and MAC, and
// its index (-1: none).
func opMarker(item *opItem, i int) (n int, key, mac []byte, at int) {
	for j, f := range item.Fields {
		if f.Label != opMarkerLabel(item.Fields[i].ID) {
			continue
		}
		parts := strings.Split(f.Value, ":")
		if len(parts) == 4 && parts[0] == "s1" {
			n, _ = strconv.Atoi(parts[1])
			key, _ = hex.DecodeString(parts[2])
			mac, _ = hex.DecodeString(parts[3])
		}
		return n, key, mac, j
	}
	return 0, nil, nil, -1
}

// opMAC is HMAC-SHA256, keyed by the marker's key, of the value of field
// id with version n, or (n < 0) of the value alone, for a name.
func opMAC(key []byte, id string, n int, value string) []byte {
	m := hmac.New(sha256.New, key)
	if n < 0 {
		fmt.Fprintf(m, "stackctl op name v1\x00%s\x00%s", id, value)
	} else {
		fmt.Fprintf(m, "stackctl op version v1\x00%s\x00%d\x00%s", id, n, value)
	}
	return m.Sum(nil)
}

// opIdentity is the version identity of field i's value (see onePassword)
// and whether a marker names it.
func opIdentity(item *opItem, i int) (string, bool) {
	f := item.Fields[i]
	n, key, mac, at := opMarker(item, i)
	switch {
	case at >= 0 && len(key) == 32 && n > 0 && hmac.Equal(mac, opMAC(key, f.ID, n, f.Value)):
		return strconv.Itoa(n), true
	case at >= 0 && len(key) == 32:
		return "h-" + hex.EncodeToString(opMAC(key, f.ID, -1, f.Value))[:16], true
	}
	return strconv.Itoa(item.Version), false
}

// opUpdated is the item as read, with field i set to value and its marker
// to version n: every other attribute, the ones stackctl does not know of
// included, goes back as it came.
func opUpdated(item *opItem, i int, value string, n int) ([]byte, error) {
	var whole map[string]json.RawMessage
	var fields []map[string]json.RawMessage
	if err := json.Unmarshal(item.raw, &whole); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(whole["fields"], &fields); err != nil {
		return nil, err
	}
	id := item.Fields[i].ID
	_, key, _, at := opMarker(item, i)
	if len(key) != 32 {
		key = make([]byte, 32)
		rand.Read(key)
	}
	str := func(s string) json.RawMessage { b, _ := json.Marshal(s); return b }
	fields[i]["value"] = str(value)
	delete(fields[i], "entropy") // the old value's
	marker := str(fmt.Sprintf("s1:%d:%x:%x", n, key, opMAC(key, id, n, value)))
	if at >= 0 {
		fields[at]["value"] = marker
	} else {
		fields = append(fields, map[string]json.RawMessage{"label": str(opMarkerLabel(id)), "type": str("CONCEALED"), "value": marker})
	}
	var err error
	if whole["fields"], err = json.Marshal(fields); err != nil {
		return nil, err
	}
	return json.Marshal(whole)
}

// call makes one Connect API call and decodes its answer into out. what
// names the object, for errors; no error holds Connect's answer, which
// could echo an item.
func (o *onePassword) call(ctx context.Context, method, path string, body []byte, out any, what string) error {
	req, err := http.NewRequestWithContext(ctx, method, o.host+path, bytes.NewReader(body))
	if err != nil {
		return &Error{Kind: ErrNoAccess, Detail: "OP_CONNECT_HOST is not a URL: set it to the Connect server's, like http://connect:8080"}
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := o.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &Error{Kind: ErrUnreachable, Detail: fmt.Sprintf("cannot reach 1Password Connect at %s (%v): check OP_CONNECT_HOST and that the server is up", o.host, err)}
	}
	defer resp.Body.Close()
	access := "read"
	if method != http.MethodGet {
		access = "write"
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(out); err != nil {
			return &Error{Kind: ErrUnreachable, Detail: fmt.Sprintf("1Password Connect at %s sent an answer stackctl cannot read: check OP_CONNECT_HOST", o.host)}
		}
		return nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return &Error{Kind: ErrNoAccess, Detail: fmt.Sprintf("1Password Connect at %s refused the token (%d): check OP_CONNECT_TOKEN and that it may %s %s", o.host, resp.StatusCode, access, what)}
	case resp.StatusCode == http.StatusNotFound:
		return &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("1Password has no %s that the Connect token may see: check the reference, and that the token has access to the vault", what)}
	case resp.StatusCode >= 500:
		return &Error{Kind: ErrUnreachable, Detail: fmt.Sprintf("1Password Connect at %s answered %d: check that the server is up and reaches 1Password", o.host, resp.StatusCode)}
	}
	return &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("1Password Connect at %s refused to %s %s (%d)", o.host, access, what, resp.StatusCode)}
}
