package rotate

import (
	"context"
	"fmt"
	"strings"

	"github.com/docker/docker/api"

	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/sopsbridge"
)

// Desired is what a stack should look like: the rewritten project and the
// versions its services now refer to. Nothing in it has touched an engine.
type Desired struct {
	Project  *compose.Project
	Versions []Version
	// Warnings are for stderr; they never hold a value.
	Warnings []string
}

// Prepare loads the compose files, reads and decrypts every value, names
// the versions and points every service reference at them. It reads
// everything before it returns, so bad input fails before any write.
func Prepare(ctx context.Context, opts compose.Options) (*Desired, error) {
	p, err := compose.Load(ctx, opts)
	if err != nil {
		return nil, err
	}
	srcs, err := p.Sources()
	if err != nil {
		return nil, err
	}
	vals, err := sopsbridge.NewReader().ReadAll(ctx, srcs)
	if err != nil {
		return nil, err
	}
	d := &Desired{Project: p}
	names := map[compose.Kind]map[string]string{compose.Secret: {}, compose.Config: {}}
	var plain []string
	for _, v := range vals {
		ver := NameVersion(p.Stack, v)
		d.Versions = append(d.Versions, ver)
		names[v.Source.Kind][v.Source.Key] = ver.Name
		if v.Source.Kind == compose.Secret && !v.Encrypted() {
			plain = append(plain, v.Source.Key)
		}
	}
	if len(plain) > 0 {
		d.Warnings = append(d.Warnings, fmt.Sprintf(
			"secrets not encrypted with sops: %s. Their version names are hashes salted only by stack and name, so anyone who can list secrets can test guesses against them: encrypt them with sops and add x-sops",
			strings.Join(plain, ", ")))
	}
	p.UseVersions(names)
	// Convert once as MakePlan will, with every secret and config known,
	// so that what docker's converter rejects is found here, as bad input,
	// before any engine is contacted. Missing external objects are found
	// by MakePlan, which reads the engine.
	known := func(_ compose.Kind, name string) (string, bool) { return placeholder + name, true }
	if _, err := p.Convert(ctx, api.DefaultVersion, known); err != nil {
		return nil, err
	}
	return d, nil
}
