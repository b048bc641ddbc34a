package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/google/uuid"

	"github.com/stackctl/stackctl/compose"
)

// azureKV reads and writes Azure Key Vault secrets (azkv://VAULT/NAME).
// VAULT is the vault's name, at https://VAULT.vault.azure.net/; a VAULT
// with a dot or a colon is the vault's host itself, for the other clouds
// (azkv://shop.vault.azure.cn/db) or a local server (azkv://127.0.0.1:8443/db).
//
// Version identity: Key Vault names a version with an ID it makes as it
// writes, so no one can know it before the write, and rotate must name
// the new swarm secret before. So stackctl tags each version it writes
// with an ID it chose (Next: a random UUID) under azureVersionTag; a
// version's identity is that tag, or for a version written by anyone
// else, Key Vault's own version ID (32 hex digits, never a UUID's form).
// Key Vault has no conditional write: Write checks that the latest
// version is still prev just before it writes, which leaves a writer
// that comes in between those two calls undetected.
type azureKV struct {
	cred    azcore.TokenCredential
	mu      sync.Mutex
	clients map[string]*azsecrets.Client // by vault URL
}

// azureVersionTag names the tag holding the version identity stackctl
// chose for a version it wrote.
const azureVersionTag = "stackctl-version"

// newAzure connects as the Azure SDKs and CLI do: DefaultAzureCredential,
// that is a service principal from AZURE_TENANT_ID, AZURE_CLIENT_ID and
// AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH), workload or
// managed identity, or the az CLI's login; AZURE_TOKEN_CREDENTIALS picks
// among them, AZURE_AUTHORITY_HOST names another cloud's sign-in host.
func newAzure(getenv func(string) string) (*azureKV, error) {
	// A sign-in host named in the environment is trusted as named: Entra's
	// instance discovery would ask the public cloud about it, which
	// private clouds fail (and Microsoft's own hosts skip it anyway).
	cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{DisableInstanceDiscovery: getenv("AZURE_AUTHORITY_HOST") != ""})
	if err != nil {
		return nil, fmt.Errorf("the Azure settings in the environment: %v", err)
	}
	return &azureKV{cred: tokenSource{cred}, clients: map[string]*azsecrets.Client{}}, nil
}

// tokenSource marks the errors of getting a token, to tell them from
// Key Vault's.
type tokenSource struct{ azcore.TokenCredential }

type tokenError struct{ err error }

func (e *tokenError) Error() string { return e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

func (t tokenSource) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := t.TokenCredential.GetToken(ctx, o)
	if err != nil {
		err = &tokenError{err}
	}
	return tok, err
}

// vaultURL is the URL of a reference's vault.
func vaultURL(ref *compose.StoreRef) string {
	if v := ref.Parts[0]; strings.ContainsAny(v, ".:") {
		return "https://" + v + "/"
	}
	return "https://" + ref.Parts[0] + ".vault.azure.net/"
}

func (a *azureKV) client(ref *compose.StoreRef) (*azsecrets.Client, error) {
	u := vaultURL(ref)
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.clients[u]; ok {
		return c, nil
	}
	// The SDK sends a token only to a host under the domain Key Vault's
	// sign-in challenge names (vault.azure.net ...). A server on this
	// machine (an emulator, a test) cannot have such a name, and a token
	// sent there leaves no machine.
	host := ref.Parts[0]
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	local := host == "localhost" || (ip != nil && ip.IsLoopback())
	c, err := azsecrets.NewClient(u, a.cred, &azsecrets.ClientOptions{DisableChallengeResourceVerification: local})
	if err != nil {
		return nil, &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("the Azure Key Vault URL %s: %v", u, err)}
	}
	a.clients[u] = c
	return c, nil
}

// azureVersion is a version's identity: the tag stackctl wrote, or Key
// Vault's version ID.
func azureVersion(id *azsecrets.ID, tags map[string]*string) string {
	if t := tags[azureVersionTag]; t != nil && *t != "" {
		return *t
	}
	if id == nil {
		return ""
	}
	return id.Version()
}

func (a *azureKV) Read(ctx context.Context, ref *compose.StoreRef) (Value, error) {
	c, err := a.client(ref)
	if err != nil {
		return Value{}, err
	}
	name := ref.Parts[1]
	cur, err := c.GetSecret(ctx, name, "", nil)
	if err != nil {
		return Value{}, azureExplain(ref, err)
	}
	if cur.Value == nil {
		return Value{}, &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("Azure Key Vault %s gave no value for secret %s", vaultURL(ref), name)}
	}
	data := []byte(*cur.Value)
	current := azureVersion(cur.ID, cur.Tags)
	return Value{Data: data, Version: a.firstVersion(ctx, c, ref, cur.Secret, data), Current: current}, nil
}

// firstVersion is the oldest version, going back from the latest through
// the secret's versions by creation time, that holds the same value: the
// same value put again names no new version. A disabled version (Key
// Vault will not give its value) ends the run. Without the list
// permission the latest version names the value.
func (a *azureKV) firstVersion(ctx context.Context, c *azsecrets.Client, ref *compose.StoreRef, cur azsecrets.Secret, data []byte) string {
	first := azureVersion(cur.ID, cur.Tags)
	if cur.ID == nil {
		return first
	}
	latest := cur.ID.Version()
	var vs []*azsecrets.SecretProperties
	pager := c.NewListSecretPropertiesVersionsPager(ref.Parts[1], nil)
	for pages := 0; pager.More() && pages < 40; pages++ {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return first
		}
		for _, v := range page.Value {
			if v != nil && v.ID != nil && v.Attributes != nil && v.Attributes.Created != nil {
				vs = append(vs, v)
			}
		}
	}
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].Attributes.Created.After(*vs[j].Attributes.Created) })
	seen, walked := false, 0
	for _, v := range vs {
		if !seen {
			seen = v.ID.Version() == latest
			continue
		}
		if walked++; walked > maxWalk || (v.Attributes.Enabled != nil && !*v.Attributes.Enabled) {
			break
		}
		old, err := c.GetSecret(ctx, ref.Parts[1], v.ID.Version(), nil)
		if err != nil || old.Value == nil || *old.Value != string(data) {
			break
		}
		first = azureVersion(old.ID, old.Tags)
	}
	return first
}

// Next is a random UUID, which Write puts in the new version's tag.
func (a *azureKV) Next(string) string {
	return uuid.NewString()
}

func (a *azureKV) Write(ctx context.Context, ref *compose.StoreRef, data []byte, prev, next string) (string, error) {
	c, err := a.client(ref)
	if err != nil {
		return "", err
	}
	name := ref.Parts[1]
	cur, err := c.GetSecret(ctx, name, "", nil)
	if err != nil {
		return "", azureExplain(ref, err)
	}
	if prev != "" && azureVersion(cur.ID, cur.Tags) != prev {
		return "", &Error{Kind: ErrBadReference, Detail: "the Azure Key Vault secret has a new version since it was read (another writer went first): nothing was written; run it again"}
	}
	// The new version keeps the latest one's content type and other tags.
	tags := map[string]*string{}
	for k, v := range cur.Tags {
		tags[k] = v
	}
	tags[azureVersionTag] = &next
	value := string(data)
	out, err := c.SetSecret(ctx, name, azsecrets.SetSecretParameters{Value: &value, ContentType: cur.ContentType, Tags: tags}, nil)
	if err != nil {
		return "", azureExplain(ref, err)
	}
	return azureVersion(out.ID, out.Tags), nil
}

// azureExplain turns an Azure error into what the user must do. It names
// Key Vault's error code, never its message or body; Entra's error code
// likewise.
func azureExplain(ref *compose.StoreRef, err error) error {
	vault, name := vaultURL(ref), ref.Parts[1]
	var re *azcore.ResponseError
	var te *tokenError
	var af *azidentity.AuthenticationFailedError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, &te) && errors.As(err, &af) && af.RawResponse != nil:
		return &Error{Kind: ErrNoAccess, Detail: fmt.Sprintf("Microsoft Entra ID refused the Azure credentials (%s): check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or the certificate), or log in again with az login", entraCode(af.RawResponse))}
	case errors.As(err, &te):
		return &Error{Kind: ErrNoAccess, Detail: "no usable Azure credentials: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, run with a managed or workload identity, or log in with az login (" + oneLine(te.err) + ")"}
	case errors.As(err, &re) && (re.StatusCode == 401 || re.StatusCode == 403):
		return &Error{Kind: ErrNoAccess, Detail: fmt.Sprintf("Azure Key Vault %s refused the credentials (%d %s): check that they may get secret %s, and list its versions (and set it, to rotate): an access policy, or a role such as Key Vault Secrets User (Officer, to rotate)", vault, re.StatusCode, re.ErrorCode, name)}
	case errors.As(err, &re) && re.StatusCode == 404:
		set := "set it first (az keyvault secret set --vault-name " + ref.Parts[0] + " --name " + name + " --value ...)"
		if strings.ContainsAny(ref.Parts[0], ".:") {
			set = "set it first"
		}
		return &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("Azure Key Vault %s has no secret %s (%s): check the vault and the name, or %s", vault, name, re.ErrorCode, set)}
	case errors.As(err, &re):
		return &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("Azure Key Vault %s answered %d %s for secret %s", vault, re.StatusCode, re.ErrorCode, name)}
	}
	return &Error{Kind: ErrUnreachable, Detail: fmt.Sprintf("cannot reach Azure Key Vault %s (%s): check the vault name and the network", vault, oneLine(err))}
}

// entraCode is the status and error code of Entra's refusal
// ("401 invalid_client, AADSTS7000215"), without its description.
func entraCode(res *http.Response) string {
	code := fmt.Sprint(res.StatusCode)
	body, err := runtime.Payload(res)
	var e struct {
		Error      string `json:"error"`
		ErrorCodes []int  `json:"error_codes"`
	}
	if err == nil && json.Unmarshal(body, &e) == nil {
		if e.Error != "" {
			code += " " + e.Error
		}
		if len(e.ErrorCodes) > 0 {
			code += fmt.Sprintf(", AADSTS%d", e.ErrorCodes[0])
		}
	}
	return code
}

// oneLine is an SDK error's text on one line, cut short: the chain of
// credentials tried, or the network error.
func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	s = strings.TrimPrefix(s, "DefaultAzureCredential: failed to acquire a token. Attempted credentials: ")
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}
