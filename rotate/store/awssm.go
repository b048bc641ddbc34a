package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	"github.com/google/uuid"

	"github.com/stackctl/stackctl/compose"
)

// awsSM reads and writes AWS Secrets Manager (awssm://NAME[#JSONKEY]):
// NAME is the secret's name or ARN; JSONKEY a key of its JSON object, or
// none for the whole string.
type awsSM struct {
	client *secretsmanager.Client
}

// newAWS connects as the AWS CLI does: the default credential chain,
// region and endpoint settings (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL
// and AWS_ENDPOINT_URL_SECRETS_MANAGER ...).
func newAWS(ctx context.Context) (*awsSM, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("the AWS settings in the environment: %v", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region: set AWS_REGION (or a region in the AWS profile)")
	}
	return &awsSM{client: secretsmanager.NewFromConfig(cfg)}, nil
}

func (a *awsSM) Read(ctx context.Context, ref *compose.StoreRef) (Value, error) {
	cur, err := a.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ref.Path)})
	if err != nil {
		return Value{}, awsExplain(ref, err)
	}
	data, err := jsonField(cur, ref)
	if err != nil {
		return Value{}, err
	}
	current := aws.ToString(cur.VersionId)
	return Value{Data: data, Version: a.firstVersion(ctx, ref, current, data), Current: current}, nil
}

// firstVersion is the oldest version, going back from current through
// the secret's history, that holds the same value: a change to another
// key, or the same value put again, names no new version.
func (a *awsSM) firstVersion(ctx context.Context, ref *compose.StoreRef, current string, data []byte) string {
	list, err := a.client.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(ref.Path), IncludeDeprecated: aws.Bool(true)})
	if err != nil {
		return current
	}
	vs := list.Versions
	sort.Slice(vs, func(i, j int) bool { return aws.ToTime(vs[i].CreatedDate).After(aws.ToTime(vs[j].CreatedDate)) })
	first, seen := current, false
	for i, v := range vs {
		id := aws.ToString(v.VersionId)
		if !seen {
			seen = id == current
			continue
		}
		old, err := a.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ref.Path), VersionId: aws.String(id)})
		if err != nil || i > maxWalk {
			break
		}
		if d, err := jsonField(old, ref); err != nil || string(d) != string(data) {
			break
		}
		first = id
	}
	return first
}

// jsonField is the secret's string, or the text of one key of its JSON.
func jsonField(s *secretsmanager.GetSecretValueOutput, ref *compose.StoreRef) ([]byte, error) {
	if s.SecretString == nil {
		if ref.Field != "" {
			return nil, &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("the AWS secret is binary, so it has no key %q: drop #%s", ref.Field, ref.Field)}
		}
		return s.SecretBinary, nil
	}
	if ref.Field == "" {
		return []byte(*s.SecretString), nil
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(*s.SecretString), &obj); err != nil {
		return nil, &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("the AWS secret is not a JSON object, so it has no key %q: drop #%s to take the whole string", ref.Field, ref.Field)}
	}
	v, ok := obj[ref.Field]
	if !ok {
		return nil, &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("the AWS secret has no key %q: check the name after #", ref.Field)}
	}
	str, ok := v.(string)
	if !ok {
		return nil, &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("key %q of the AWS secret is not text: store the value as a string", ref.Field)}
	}
	return []byte(str), nil
}

func (a *awsSM) Next(string) string {
	// A client request token becomes the new version's ID: a UUID, as
	// the AWS SDK makes one (Secrets Manager takes 32 to 64 characters).
	return uuid.NewString()
}

func (a *awsSM) Write(ctx context.Context, ref *compose.StoreRef, data []byte, prev, next string) (string, error) {
	cur, err := a.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ref.Path)})
	if err != nil {
		return "", awsExplain(ref, err)
	}
	if prev != "" && aws.ToString(cur.VersionId) != prev {
		return "", &Error{Kind: ErrBadReference, Detail: "the AWS secret has a new current version since it was read (another writer went first): nothing was written; run it again"}
	}
	str := string(data)
	if ref.Field != "" {
		var obj map[string]any
		if err := json.Unmarshal([]byte(aws.ToString(cur.SecretString)), &obj); err != nil {
			return "", &Error{Kind: ErrBadReference, Detail: "the AWS secret is not a JSON object: nothing was written"}
		}
		obj[ref.Field] = str
		b, _ := json.Marshal(obj)
		str = string(b)
	}
	out, err := a.client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(ref.Path), SecretString: aws.String(str), ClientRequestToken: aws.String(next)})
	if err != nil {
		return "", awsExplain(ref, err)
	}
	return aws.ToString(out.VersionId), nil
}

// awsExplain turns an AWS error into what the user must do. AWS messages
// name secrets and permissions, never values.
func awsExplain(ref *compose.StoreRef, err error) error {
	var nf *types.ResourceNotFoundException
	var api smithy.APIError
	switch {
	case errors.As(err, &nf):
		return &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("AWS Secrets Manager has no secret %s (or no current version of it): check the name and the region", ref.Path)}
	case errors.As(err, &api) && (strings.Contains(api.ErrorCode(), "AccessDenied") || strings.Contains(api.ErrorCode(), "Unrecognized") || strings.Contains(api.ErrorCode(), "Signature") || strings.Contains(api.ErrorCode(), "Token")):
		return &Error{Kind: ErrNoAccess, Detail: fmt.Sprintf("AWS refused the credentials (%s: %s): check them and that their policy allows secretsmanager:GetSecretValue on %s", api.ErrorCode(), api.ErrorMessage(), ref.Path)}
	case errors.As(err, &api):
		return &Error{Kind: ErrBadReference, Detail: fmt.Sprintf("AWS Secrets Manager answered %s: %s", api.ErrorCode(), api.ErrorMessage())}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case strings.Contains(err.Error(), "credential"):
		return &Error{Kind: ErrNoAccess, Detail: "no AWS credentials: set them as the AWS CLI reads them (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, a role ...)"}
	}
	return &Error{Kind: ErrUnreachable, Detail: fmt.Sprintf("cannot reach AWS Secrets Manager (%v): check the region, the network and AWS_ENDPOINT_URL", err)}
}
