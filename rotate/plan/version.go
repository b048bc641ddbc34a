// Package plan is pure: it names versions, compares the desired stack
// with the observed one and says what a deploy, a rotation or a prune
// would change. It takes no context and calls no engine.
package plan

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"

	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/sopsbridge"
)

// HashLen is how many hex characters of the keyed hash a version name carries.
const HashLen = compose.VersionSuffixLen - 1

// Version is one immutable swarm secret or config: where its value comes
// from, the value, and its name.
type Version struct {
	Source compose.Source
	sopsbridge.Value
	// Name is "<swarm name>.<hash>".
	Name string
	Hash string
	// StoreVersion is, for a value from a secret store, the store's
	// identity of it; StoreCurrent the store's version when it was read.
	StoreVersion, StoreCurrent string
}

// NameVersion names a value by a keyed hash of its content.
//
// A SOPS value is keyed by a key derived from its file's data key, so a
// name says nothing about the value to anyone without a decryption key. A
// plain value can only be salted by stack and name: anyone who knows both
// can test guesses against its name, which is why plain secrets get a warning.
func NameVersion(stack string, src compose.Source, v sopsbridge.Value) Version {
	key := v.NameKey
	if key == nil {
		salt := sha256.Sum256([]byte("stackctl plain v1\x00" + stack + "\x00" + string(src.Kind) + "\x00" + src.Name))
		key = salt[:]
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(string(src.Kind) + "\x00" + src.Name + "\x00"))
	if d := src.TemplateDriver; d != "" {
		// The same text with and without templating are different
		// versions: the container reads something else. Untemplated names
		// stay as they were.
		mac.Write([]byte("template_driver=" + d + "\x00"))
	}
	mac.Write(v.Data)
	hash := hex.EncodeToString(mac.Sum(nil))[:HashLen]
	return Version{Source: src, Value: v, Name: src.Name + "." + hash, Hash: hash}
}

// NameStoreVersion names a value that a secret store holds by the store's
// own identity of it: the reference and the version from which the value
// has been what it is. The name says nothing about the value, stays while
// the value does, and changes when the store holds a new one.
func NameStoreVersion(stack string, src compose.Source, data []byte, version, current string) Version {
	sum := sha256.Sum256([]byte("stackctl store v1\x00" + stack + "\x00" + string(src.Kind) + "\x00" + src.Name + "\x00" + src.Store.URI + "\x00" + version))
	hash := hex.EncodeToString(sum[:])[:HashLen]
	return Version{Source: src, Value: sopsbridge.Value{Data: data}, Name: src.Name + "." + hash, Hash: hash, StoreVersion: version, StoreCurrent: current}
}
