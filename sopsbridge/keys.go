package sopsbridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	smithylogging "github.com/aws/smithy-go/logging"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/azkv"
	"github.com/getsops/sops/v3/gcpkms"
	"github.com/getsops/sops/v3/hckms"
	"github.com/getsops/sops/v3/hcvault"
	"github.com/getsops/sops/v3/keyservice"
	"github.com/getsops/sops/v3/kms"
	"github.com/getsops/sops/v3/pgp"
)

// Bounds on recovering a file's data key. sops asks every master key with
// context.Background(), and a SOPS file names its own key endpoints: a
// Vault address or key vault URL that accepts connections and never
// answers kept a read waiting 60s per Vault key (the Vault client's own
// timeout), an Azure key vault longer (its retries have no per-try
// timeout), and a file can list any number of such keys. Each master key
// now gets keyTimeout, and all of a file's keys together dataKeyTimeout.
var (
	keyTimeout     = 20 * time.Second
	dataKeyTimeout = 60 * time.Second
)

// maxFileSize bounds what Read and SetValue load into memory. Swarm takes
// values of at most 500 KiB (secrets) or 1000 KiB (configs); a SOPS file
// holding many of them, with its metadata, stays far below this.
const maxFileSize = 16 << 20

// dataKey recovers the data key of a SOPS file from its master keys,
// trying each with a deadline. The error says which keys were tried and
// which of them did not answer in time; it never holds key material.
// unreachable says that some key did not answer, or the read was
// interrupted, rather than that no key would do.
func dataKey(ctx context.Context, m *sops.Metadata) (key []byte, unreachable bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, dataKeyTimeout)
	defer cancel()
	ks := &boundedKeyService{ctx: ctx}
	key, err = m.GetDataKeyWithKeyServices(
		[]keyservice.KeyServiceClient{keyservice.NewCustomLocalClient(ks)}, sops.DefaultDecryptionOrder)
	if err == nil {
		return key, false, nil
	}
	detail := "tried " + triedKeys(*m)
	if slow := ks.timedOut(); len(slow) > 0 {
		detail += "; no answer in time from " + strings.Join(slow, ", ")
		unreachable = true
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		detail += "; interrupted"
		unreachable = true
	}
	return nil, unreachable, errors.New(detail)
}

// boundedKeyService decrypts data keys as sops's local key service does,
// but within deadlines, and with the cloud SDKs' own logging kept off
// stackctl's output.
type boundedKeyService struct {
	ctx  context.Context
	mu   sync.Mutex
	slow []string
}

func (b *boundedKeyService) timedOut() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.slow...)
}

func (b *boundedKeyService) Encrypt(context.Context, *keyservice.EncryptRequest) (*keyservice.EncryptResponse, error) {
	return nil, errors.New("stackctl only decrypts data keys")
}

// Decrypt ignores the context sops passes (always Background) for its own.
func (b *boundedKeyService) Decrypt(_ context.Context, req *keyservice.DecryptRequest) (*keyservice.DecryptResponse, error) {
	if err := b.ctx.Err(); err != nil {
		b.note(req.GetKey())
		return nil, err
	}
	ctx, cancel := context.WithTimeout(b.ctx, keyTimeout)
	defer cancel()
	type result struct {
		plain []byte
		err   error
	}
	// Some key sources take no context (age runs SOPS_AGE_KEY_CMD, pgp may
	// prompt for a passphrase): the call runs apart, and is left behind if
	// it overruns.
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("key source failed (%v)", p)}
			}
		}()
		plain, err := decryptDataKey(ctx, req.GetKey(), req.GetCiphertext())
		done <- result{plain, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, r.err
		}
		return &keyservice.DecryptResponse{Plaintext: r.plain}, nil
	case <-ctx.Done():
		b.note(req.GetKey())
		return nil, fmt.Errorf("no answer within %v: %w", keyTimeout, ctx.Err())
	}
}

func (b *boundedKeyService) note(k *keyservice.Key) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := describeKey(k)
	if !slices.Contains(b.slow, d) {
		b.slow = append(b.slow, d)
	}
}

// decryptDataKey mirrors sops's keyservice.Server.Decrypt, with ctx
// passed to every key source that takes one.
func decryptDataKey(ctx context.Context, key *keyservice.Key, ciphertext []byte) ([]byte, error) {
	switch k := key.GetKeyType().(type) {
	case *keyservice.Key_AgeKey:
		mk := age.MasterKey{Recipient: k.AgeKey.GetRecipient(), EncryptedKey: string(ciphertext)}
		return mk.Decrypt()
	case *keyservice.Key_PgpKey:
		mk := pgp.NewMasterKeyFromFingerprint(k.PgpKey.GetFingerprint())
		mk.EncryptedKey = string(ciphertext)
		return mk.DecryptContext(ctx)
	case *keyservice.Key_KmsKey:
		encCtx := map[string]*string{}
		for name, v := range k.KmsKey.GetContext() {
			encCtx[name] = &v
		}
		mk := kms.MasterKey{Arn: k.KmsKey.GetArn(), Role: k.KmsKey.GetRole(), EncryptionContext: encCtx,
			AwsProfile: k.KmsKey.GetAwsProfile(), EncryptedKey: string(ciphertext)}
		creds, err := quietAWSCredentials(ctx, mk.Arn, mk.AwsProfile)
		if err != nil {
			return nil, err
		}
		kms.NewCredentialsProvider(creds).ApplyToMasterKey(&mk)
		return mk.DecryptContext(ctx)
	case *keyservice.Key_GcpKmsKey:
		mk := gcpkms.MasterKey{ResourceID: k.GcpKmsKey.GetResourceId(), EncryptedKey: string(ciphertext)}
		return mk.DecryptContext(ctx)
	case *keyservice.Key_AzureKeyvaultKey:
		mk := azkv.MasterKey{VaultURL: k.AzureKeyvaultKey.GetVaultUrl(), Name: k.AzureKeyvaultKey.GetName(),
			Version: k.AzureKeyvaultKey.GetVersion(), EncryptedKey: string(ciphertext)}
		return mk.DecryptContext(ctx)
	case *keyservice.Key_VaultKey:
		mk := hcvault.MasterKey{VaultAddress: k.VaultKey.GetVaultAddress(), EnginePath: k.VaultKey.GetEnginePath(),
			KeyName: k.VaultKey.GetKeyName(), EncryptedKey: string(ciphertext)}
		return mk.DecryptContext(ctx)
	case *keyservice.Key_HckmsKey:
		mk, err := hckms.NewMasterKey(k.HckmsKey.GetKeyId())
		if err != nil {
			return nil, err
		}
		mk.EncryptedKey = string(ciphertext)
		return mk.DecryptContext(ctx)
	}
	return nil, errUnsupportedKey
}

// errUnsupportedKey: a master key of a type sops knows and stackctl does
// not (a test lists sops's key types and fails on a new one).
var errUnsupportedKey = errors.New("unsupported key type")

// quietAWSCredentials resolves AWS credentials the way sops does (the
// default chain, the key's profile), but with the SDK's logger off: by
// default it writes warnings such as "falling back to IMDSv1" to stderr,
// in the middle of stackctl's output.
func quietAWSCredentials(ctx context.Context, arn, profile string) (aws.CredentialsProvider, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithLogger(smithylogging.Nop{})}
	if parts := strings.SplitN(arn, ":", 5); len(parts) == 5 && parts[3] != "" {
		opts = append(opts, awsconfig.WithRegion(parts[3]))
	}
	if profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(profile))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("could not load AWS config: %w", err)
	}
	return cfg.Credentials, nil
}

// describeKey names a master key as triedKeys does (sops's ToString):
// its type and where it lives, never its encrypted data key.
func describeKey(k *keyservice.Key) string {
	switch k := k.GetKeyType().(type) {
	case *keyservice.Key_AgeKey:
		return "age " + k.AgeKey.GetRecipient()
	case *keyservice.Key_PgpKey:
		return "pgp " + k.PgpKey.GetFingerprint()
	case *keyservice.Key_KmsKey:
		return "kms " + k.KmsKey.GetArn()
	case *keyservice.Key_GcpKmsKey:
		return "gcp_kms " + k.GcpKmsKey.GetResourceId()
	case *keyservice.Key_AzureKeyvaultKey:
		return "azure_kv " + k.AzureKeyvaultKey.GetVaultUrl() + "/keys/" + k.AzureKeyvaultKey.GetName() + "/" + k.AzureKeyvaultKey.GetVersion()
	case *keyservice.Key_VaultKey:
		return "hc_vault " + k.VaultKey.GetVaultAddress() + "/v1/" + k.VaultKey.GetEnginePath() + "/keys/" + k.VaultKey.GetKeyName()
	case *keyservice.Key_HckmsKey:
		return "hckms " + k.HckmsKey.GetKeyId()
	}
	return "an unknown key"
}
