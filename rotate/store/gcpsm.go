package store

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"cloud.google.com/go/auth"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/stackctl/stackctl/compose"
)

// gcpSM reads and writes Google Cloud Secret Manager
// (gcpsm://PROJECT/NAME): the payload of secret NAME of project PROJECT
// (its ID or number), as a whole.
//
// A version's identity is its number, which Secret Manager gives one by
// one per secret and never reuses, whatever became of the versions
// before it. The latest version (the alias versions/latest: the one
// created last, whatever its state) is the current one, so the next
// write makes current+1.
type gcpSM struct {
	client *secretmanager.Client
}

// Settings read from the environment besides Application Default
// Credentials. The Go client library reads no variable for either:
//   - gcpEndpointEnv is gcloud's own override of the Secret Manager
//     endpoint (the property api_endpoint_overrides/secretmanager, set as
//     gcloud reads every property from CLOUDSDK_SECTION_NAME), as for a
//     regional endpoint https://secretmanager.LOCATION.rep.googleapis.com/
//     (or, in tests, a local server).
//   - gcpTokenEnv is an OAuth 2 access token (`gcloud auth
//     print-access-token`), taken as the Google Terraform provider takes
//     it; without it, Application Default Credentials.
const (
	gcpEndpointEnv = "CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER"
	gcpTokenEnv    = "GOOGLE_OAUTH_ACCESS_TOKEN"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// newGCP connects as Google's client libraries do: Application Default
// Credentials (GOOGLE_APPLICATION_CREDENTIALS, the file `gcloud auth
// application-default login` writes, the metadata server), unless
// GOOGLE_OAUTH_ACCESS_TOKEN holds a token. It speaks the REST API: the
// gRPC client would link a second transport for no gain.
func newGCP(ctx context.Context, getenv func(string) string) (*gcpSM, error) {
	// The library's debug log (GOOGLE_SDK_GO_LOGGING_LEVEL) would print
	// response bodies, which hold values: it is never on.
	opts := []option.ClientOption{option.WithLogger(slog.New(slog.DiscardHandler))}
	if ep := getenv(gcpEndpointEnv); ep != "" {
		opts = append(opts, option.WithEndpoint(strings.TrimSuffix(strings.TrimSuffix(ep, "/"), "/v1")))
	}
	if tok := getenv(gcpTokenEnv); tok != "" {
		opts = append(opts, option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok, TokenType: "Bearer"})))
	}
	c, err := secretmanager.NewRESTClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot load Google Cloud credentials (%v): run `gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS to a key file, or set %s", err, gcpTokenEnv)
	}
	return &gcpSM{client: c}, nil
}

func gcpSecret(ref *compose.StoreRef) string {
	return "projects/" + ref.Parts[0] + "/secrets/" + ref.Parts[1]
}

// access reads one version ("latest" or a number) and returns its value
// and number, the payload's checksum checked.
func (g *gcpSM) access(ctx context.Context, ref *compose.StoreRef, version string) ([]byte, string, error) {
	resp, err := g.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: gcpSecret(ref) + "/versions/" + version})
	if err != nil {
		return nil, "", gcpExplain(ref, err, "secretmanager.versions.access (role Secret Manager Secret Accessor)")
	}
	p := resp.GetPayload()
	if p.DataCrc32C != nil && int64(crc32.Checksum(p.GetData(), castagnoli)) != *p.DataCrc32C {
		return nil, "", &Error{Kind: ErrUnreachable, Detail: fmt.Sprintf("version %s of the Google Cloud secret came back corrupted (its CRC32C does not match): run it again", version)}
	}
	name := resp.GetName()
	n := name[strings.LastIndex(name, "/")+1:]
	if _, err := strconv.Atoi(n); err != nil {
		return nil, "", &Error{Kind: ErrUnreachable, Detail: fmt.Sprintf("Secret Manager named the version it read %q, not projects/*/secrets/*/versions/NUMBER: check %s", name, gcpEndpointEnv)}
	}
	return p.GetData(), n, nil
}

func (g *gcpSM) Read(ctx context.Context, ref *compose.StoreRef) (Value, error) {
	data, current, err := g.access(ctx, ref, "latest")
	if err != nil {
		return Value{}, err
	}
	// The value's identity is the first version of the run of enabled
	// versions that hold it: the same value added again names nothing
	// new. A disabled or destroyed version cannot be accessed, so the run
	// starts after it. Accessing, not listing, keeps the permissions
	// needed to those of the Secret Accessor role.
	cur, _ := strconv.Atoi(current)
	first := cur
	for n := cur - 1; n >= 1 && cur-n <= maxWalk; n-- {
		old, _, err := g.access(ctx, ref, strconv.Itoa(n))
		if err != nil || string(old) != string(data) {
			break
		}
		first = n
	}
	return Value{Data: data, Version: strconv.Itoa(first), Current: current}, nil
}

// Next: Secret Manager numbers a secret's versions one by one.
func (g *gcpSM) Next(current string) string {
	n, _ := strconv.Atoi(current)
	return strconv.Itoa(n + 1)
}

// Write adds a version, if the latest one is still prev. Secret Manager
// has no check-and-set on a new version: the check is made just before
// the write, and a writer that comes in between makes this write's
// number differ from next, which rotate reports.
func (g *gcpSM) Write(ctx context.Context, ref *compose.StoreRef, data []byte, prev, _ string) (string, error) {
	_, latest, err := g.access(ctx, ref, "latest")
	if err != nil {
		return "", err
	}
	if prev != "" && latest != prev {
		return "", &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("the Google Cloud secret is at version %s, not %s as read (another writer went first): nothing was written; run it again", latest, prev)}
	}
	sum := int64(crc32.Checksum(data, castagnoli))
	v, err := g.client.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: gcpSecret(ref), Payload: &secretmanagerpb.SecretPayload{Data: data, DataCrc32C: &sum}})
	if err != nil {
		return "", gcpExplain(ref, err, "secretmanager.versions.add (role Secret Manager Secret Version Adder)")
	}
	name := v.GetName()
	return name[strings.LastIndex(name, "/")+1:], nil
}

// gcpExplain turns a Secret Manager error into what the user must do.
// Google's messages name resources and permissions, never payloads; the
// raw body of an answer that is not Google's JSON error is not shown.
func gcpExplain(ref *compose.StoreRef, err error, permission string) error {
	var ge *googleapi.Error
	var ae *auth.Error
	switch {
	case errors.As(err, &ge) && ge.Code == http.StatusNotFound:
		return &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("Google Cloud Secret Manager has no secret %s in project %s, or no such version of it (%s): check the project and the name, or add a version first (gcloud secrets versions add %s --project=%s --data-file=...)", ref.Parts[1], ref.Parts[0], ge.Message, ref.Parts[1], ref.Parts[0])}
	case errors.As(err, &ge) && (ge.Code == http.StatusUnauthorized || ge.Code == http.StatusForbidden):
		return &Error{Kind: ErrNoAccess, Detail: fmt.Sprintf("Google Cloud refused the credentials (%d: %s): check them (Application Default Credentials or %s) and that they have %s on %s", ge.Code, ge.Message, gcpTokenEnv, permission, gcpSecret(ref))}
	case errors.As(err, &ge) && ge.Code == http.StatusBadRequest && (strings.Contains(ge.Message, "DISABLED") || strings.Contains(ge.Message, "DESTROYED")):
		return &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("the latest version of the Google Cloud secret cannot be read (%s): enable it, or add a new version", ge.Message)}
	case errors.As(err, &ge):
		return &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("Google Cloud Secret Manager answered %d: %s", ge.Code, ge.Message)}
	case errors.As(err, &ae):
		return &Error{Kind: ErrNoAccess, Detail: fmt.Sprintf("no token for the Google Cloud credentials (%v): run `gcloud auth application-default login` again, or check GOOGLE_APPLICATION_CREDENTIALS", ae)}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return &Error{Kind: ErrUnreachable, Detail: fmt.Sprintf("cannot reach Google Cloud Secret Manager (%v): check the network and %s", err, gcpEndpointEnv)}
}
