package rotate

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/rotate/plan"
	"github.com/stackctl/stackctl/rotate/store"
	"github.com/stackctl/stackctl/sopsbridge"
)

// Prepare loads the compose files, reads and decrypts every value, names
// the versions and points every service reference at them. It reads
// everything before it returns, so bad input fails before any write.
func Prepare(ctx context.Context, opts compose.Options) (*plan.Desired, error) {
	return prepare(ctx, opts, true)
}

// PrepareRender is Prepare for render: it checks what `docker stack
// config` checks, not what only a deploy needs (images, the engine's
// rules, docker's converter), and converts nothing.
func PrepareRender(ctx context.Context, opts compose.Options) (*plan.Desired, error) {
	return prepare(ctx, opts, false)
}

func prepare(ctx context.Context, opts compose.Options, deploy bool) (*plan.Desired, error) {
	p, err := compose.Load(ctx, opts)
	if err != nil {
		return nil, err
	}
	if deploy {
		if err := p.CheckDeployable(); err != nil {
			return nil, err
		}
	}
	srcs, skipped, err := p.Sources(!deploy)
	if err != nil {
		return nil, err
	}
	d := &plan.Desired{Project: p, Warnings: append(append([]string{}, p.Warnings...), skipped...)}
	if err := readVersions(ctx, d, srcs); err != nil {
		return nil, err
	}
	if !deploy {
		return d, nil
	}
	// Converted once, here, so that what docker's converter rejects is
	// found as bad input before any engine is contacted; every plan of
	// this command reads these specs. Missing external objects are found
	// by MakePlan, which reads the engine.
	if d.Specs, err = p.Convert(ctx); err != nil {
		return nil, err
	}
	if err := p.CheckSpecs(d.Specs); err != nil {
		return nil, err
	}
	return d, nil
}

// readVersions reads every source's value, names its version and points
// the project at the versions.
func readVersions(ctx context.Context, d *plan.Desired, srcs []compose.Source) error {
	p := d.Project
	names := map[compose.Kind]map[string]string{compose.Secret: {}, compose.Config: {}}
	valued, err := readStores(ctx, d, srcs, names)
	if err != nil {
		return err
	}
	reqs := make([]sopsbridge.Source, len(valued))
	for i, src := range valued {
		reqs[i] = readRequest(src)
	}
	vals, err := sopsbridge.NewReader().ReadAll(ctx, reqs)
	if err != nil {
		return err
	}
	var plain, clear []string
	for i, v := range vals {
		src := valued[i]
		if src.Kind == compose.Config && v.Encrypted() && (src.SOPS == nil || !src.SOPS.PlaintextConfig) {
			clear = append(clear, fmt.Sprintf("configs.%s: %s is SOPS-encrypted, but a config is stored decrypted, readable by anyone with API access (docker config inspect): move it under secrets:, or add x-sops: {plaintext_config: true} if it may be read in clear", src.Key, src.File))
		}
		ver := plan.NameVersion(p.Stack, src, v)
		d.Versions = append(d.Versions, ver)
		names[src.Kind][src.Key] = ver.Name
		if src.Kind == compose.Secret && !v.Encrypted() {
			plain = append(plain, src.Key)
		}
	}
	if len(clear) > 0 {
		return fmt.Errorf("%s: %s", strings.Join(p.Files, ", "), strings.Join(clear, "; "))
	}
	if len(plain) > 0 {
		d.Warnings = append(d.Warnings, fmt.Sprintf(
			"%s: secrets not encrypted with sops: %s. Their version names are hashes salted only by stack and name, so anyone who can list secrets can test guesses against them: encrypt them with sops and add x-sops",
			strings.Join(p.Files, ", "), strings.Join(plain, ", ")))
	}
	p.UseVersions(names)
	return nil
}

// readRequest is what sopsbridge needs to read a compose source.
func readRequest(s compose.Source) sopsbridge.Source {
	r := sopsbridge.Source{Ref: s.Ref(), Kind: string(s.Kind), MaxSize: s.Kind.MaxSize(), Inline: s.Inline}
	if s.Origin == compose.FromFile {
		r.File = s.File
	}
	if s.SOPS != nil {
		r.SOPS = &sopsbridge.SOPSRef{Path: s.SOPS.Path, Format: s.SOPS.Format}
	}
	return r
}

// readStores versions what a secret-driver plugin or a secret store holds
// and returns the sources whose values sopsbridge reads. A store's value is
// read now, in memory, and named by the store's own version of it.
func readStores(ctx context.Context, d *plan.Desired, srcs []compose.Source, names map[compose.Kind]map[string]string) ([]compose.Source, error) {
	var valued []compose.Source
	stores := &store.Stores{Getenv: os.Getenv}
	for _, src := range srcs {
		switch src.Origin {
		case compose.FromDriver:
			// Created as docker creates it, under its swarm name: the
			// plugin holds the value, so there is nothing to version.
			d.Versions = append(d.Versions, plan.Version{Source: src, Name: src.Name})
		case compose.FromStore:
			v, err := stores.Read(ctx, src.Key, src.Store)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", strings.Join(d.Project.Files, ", "), err)
			}
			if len(v.Data) == 0 || len(v.Data) >= src.Kind.MaxSize() {
				return nil, fmt.Errorf("%s: secret %s (x-store %s): the value has %d bytes; swarm takes 1 to %d", strings.Join(d.Project.Files, ", "), src.Key, src.Store.URI, len(v.Data), src.Kind.MaxSize()-1)
			}
			ver := plan.NameStoreVersion(d.Project.Stack, src, v.Data, v.Version, v.Current)
			d.Versions = append(d.Versions, ver)
			names[src.Kind][src.Key] = ver.Name
		default:
			valued = append(valued, src)
		}
	}
	return valued, nil
}
