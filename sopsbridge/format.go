package sopsbridge

import (
	"strings"
	"time"

	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/stores/dotenv"
	"github.com/getsops/sops/v3/stores/ini"
	"github.com/getsops/sops/v3/stores/json"
	"github.com/getsops/sops/v3/stores/yaml"
)

// format is how sops reads a file.
type format string

const (
	formatYAML   format = "yaml"
	formatJSON   format = "json"
	formatDotenv format = "dotenv"
	formatINI    format = "ini"
	formatBinary format = "binary"
)

// formatOf is the format named, or else the one the file's extension
// gives, binary when none does (sops' own rule, in its cmd/sops/formats:
// .yaml and .yml, .json, .env, .ini).
func formatOf(file, name string) format {
	switch f := format(name); f {
	case formatYAML, formatJSON, formatDotenv, formatINI, formatBinary:
		return f
	}
	switch {
	case strings.HasSuffix(file, ".yaml"), strings.HasSuffix(file, ".yml"):
		return formatYAML
	case strings.HasSuffix(file, ".json"):
		return formatJSON
	case strings.HasSuffix(file, ".env"):
		return formatDotenv
	case strings.HasSuffix(file, ".ini"):
		return formatINI
	}
	return formatBinary
}

// store is sops' store of a format, from its public stores packages.
func storeFor(f format, c *config.StoresConfig) sops.Store {
	switch f {
	case formatYAML:
		return yaml.NewStore(&c.YAML)
	case formatJSON:
		return json.NewStore(&c.JSON)
	case formatDotenv:
		return dotenv.NewStore(&c.Dotenv)
	case formatINI:
		return ini.NewStore(&c.INI)
	}
	return json.NewBinaryStore(&c.JSONBinary)
}

// encryptTree encrypts every value of tree with the data key and seals
// the MAC of the plaintext with the time of the change, as sops does.
func encryptTree(tree *sops.Tree, dataKey []byte) error {
	cipher := aes.NewCipher()
	mac, err := tree.Encrypt(dataKey, cipher)
	if err != nil {
		return err
	}
	tree.Metadata.LastModified = time.Now().UTC()
	tree.Metadata.MessageAuthenticationCode, err = cipher.Encrypt(mac, dataKey, tree.Metadata.LastModified.Format(time.RFC3339))
	return err
}
