package sopsbridge

import (
	"fmt"

	"github.com/getsops/sops/v3"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keys"
	"github.com/getsops/sops/v3/version"
)

// Encrypt encrypts a plaintext document for age recipients, as
// `sops encrypt --age RECIPIENTS` does, to make test fixtures. format is
// yaml, json, dotenv, ini or binary. A test helper: stackctl never
// encrypts a new file (rotate edits existing ones), and sops' version
// package it needs links a CLI framework and a man-page renderer.
func Encrypt(plain []byte, format string, ageRecipients ...string) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sops failed to encrypt (%v)", p)
		}
	}()
	store := storeFor(formatOf("", format), config.NewStoresConfig())
	branches, err := store.LoadPlainFile(plain)
	if err != nil {
		return nil, fmt.Errorf("parse %s document: %w", format, err)
	}
	var group sops.KeyGroup
	for _, r := range ageRecipients {
		k, err := sopsage.MasterKeyFromRecipient(r)
		if err != nil {
			return nil, fmt.Errorf("age recipient: %w", err)
		}
		group = append(group, keys.MasterKey(k))
	}
	tree := sops.Tree{
		Branches: branches,
		Metadata: sops.Metadata{
			KeyGroups:         []sops.KeyGroup{group},
			UnencryptedSuffix: sops.DefaultUnencryptedSuffix,
			Version:           version.Version,
		},
	}
	dataKey, errs := tree.GenerateDataKey()
	if len(errs) > 0 {
		return nil, fmt.Errorf("encrypt data key: %v", errs)
	}
	if err := encryptTree(&tree, dataKey); err != nil {
		return nil, err
	}
	return store.EmitEncryptedFile(tree)
}
