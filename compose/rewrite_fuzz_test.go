package compose

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	types "github.com/docker/cli/cli/compose/types"
)

// composeSeeds are the compose files under testdata/ and examples/, with
// the folder their relative paths (env_file:, file:) resolve against.
func composeSeeds(f *testing.F) (docs [][]byte, dirs []string) {
	f.Helper()
	var files []string
	for _, pattern := range []string{"../testdata/*/*.yml", "../testdata/*/*.yaml", "../examples/*/*.yml", "../examples/*/*.yaml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		// Not compose files (SOPS files, a GitHub workflow), or too big to
		// mutate usefully (the 1000-service benchmark stack).
		if !bytes.Contains(b, []byte("services:")) || bytes.Contains(b, []byte("\nsops:")) || len(b) > 64<<10 {
			continue
		}
		dir, err := filepath.Abs(filepath.Dir(file))
		if err != nil {
			f.Fatal(err)
		}
		docs = append(docs, b)
		dirs = append(dirs, dir)
	}
	if len(docs) < 5 {
		f.Fatalf("found only %d compose seed files", len(docs))
	}
	return docs, dirs
}

var versionName = regexp.MustCompile(`^(.+)\.[0-9a-f]{12}$`)

// FuzzUseVersions: for any loadable compose file, extra service secret
// and config references, and any choice of versioned keys, UseVersions
// never panics; each versioned key becomes an external object named
// <name>.<hash>; each reference to a versioned key keeps its source (the
// compose key, which now resolves to <name>.<hash>) and its target, or
// gets the target docker would have defaulted to, the key; every other
// reference and object is untouched; rewriting twice changes nothing; and
// where docker's converter takes the result, every swarm reference to a
// version mounts it at that target.
func FuzzUseVersions(f *testing.F) {
	docs, dirs := composeSeeds(f)
	for i, doc := range docs {
		f.Add(doc, uint8(i), []byte{})     // nothing versioned
		f.Add(doc, uint8(i), []byte{0xff}) // everything versioned
		f.Add(doc, uint8(i), []byte{0x55, 0x0a, 0x13, 0x81, 0x02, 0x40, 0x07, 0x00, 0x99})
	}
	f.Fuzz(func(t *testing.T, doc []byte, dirIdx uint8, spec []byte) {
		if len(doc) > 64<<10 {
			return
		}
		p, err := Load(context.Background(), Options{
			Files: []string{"-"}, Stdin: bytes.NewReader(doc), Stack: "st", Env: []string{"WEB_REPLICAS=2"},
			WorkDir: dirs[int(dirIdx)%len(dirs)],
		})
		if err != nil {
			return
		}
		names := mutateForVersions(p, spec)

		beforeServices := snapshotServices(p.Config.Services)
		beforeSecrets := copyMap(p.Config.Secrets)
		beforeConfigs := copyMap(p.Config.Configs)

		p.UseVersions(names)

		for key, obj := range p.Config.Secrets {
			before, existed := beforeSecrets[key]
			checkObject(t, "secret", key, names[Secret], types.FileObjectConfig(obj), types.FileObjectConfig(before), existed, p.swarmName(key, before.Name))
		}
		for key, obj := range p.Config.Configs {
			before, existed := beforeConfigs[key]
			checkObject(t, "config", key, names[Config], types.FileObjectConfig(obj), types.FileObjectConfig(before), existed, p.swarmName(key, before.Name))
		}
		if len(p.Config.Secrets) != len(beforeSecrets) || len(p.Config.Configs) != len(beforeConfigs) {
			t.Fatal("objects were added or removed")
		}
		if len(p.Config.Services) != len(beforeServices) {
			t.Fatal("services were added or removed")
		}
		for _, svc := range p.Config.Services {
			sname := svc.Name
			before, ok := beforeServices[sname]
			if !ok {
				t.Fatalf("new service %s", sname)
			}
			if len(svc.Secrets) != len(before.Secrets) || len(svc.Configs) != len(before.Configs) {
				t.Fatalf("service %s: references were added or removed", sname)
			}
			for i, ref := range svc.Secrets {
				checkRef(t, sname, names[Secret], types.FileReferenceConfig(ref), types.FileReferenceConfig(before.Secrets[i]))
			}
			for i, ref := range svc.Configs {
				checkRef(t, sname, names[Config], types.FileReferenceConfig(ref), types.FileReferenceConfig(before.Configs[i]))
			}
			rest, restBefore := svc, before
			rest.Secrets, rest.Configs, restBefore.Secrets, restBefore.Configs = nil, nil, nil, nil
			if !reflect.DeepEqual(rest, restBefore) {
				t.Fatalf("service %s changed beyond its secret and config references", sname)
			}
		}

		once := snapshotServices(p.Config.Services)
		onceSecrets, onceConfigs := copyMap(p.Config.Secrets), copyMap(p.Config.Configs)
		p.UseVersions(names)
		if !reflect.DeepEqual(once, snapshotServices(p.Config.Services)) || !reflect.DeepEqual(onceSecrets, copyMap(p.Config.Secrets)) || !reflect.DeepEqual(onceConfigs, copyMap(p.Config.Configs)) {
			t.Fatal("a second UseVersions changed the project")
		}

		checkConverted(t, p, names, beforeServices)
	})
}

// mutateForVersions adds service references driven by spec (to defined
// keys and to undefined ones) and picks which defined keys get a version,
// as stackctl versions every secret and config it reads a value for.
func mutateForVersions(p *Project, spec []byte) map[Kind]map[string]string {
	secretKeys, configKeys := SortedKeys(p.Config.Secrets), SortedKeys(p.Config.Configs)
	services := p.Config.Services
	pick := func(keys []string, b byte) string {
		if len(keys) == 0 || b%5 == 0 {
			return fmt.Sprintf("undefined%d", b%3)
		}
		return keys[int(b)%len(keys)]
	}
	targets := []string{"", "", "same", "/run/secrets/x", "/etc/app/conf", "db_password"}
	// Each 3 bytes add one reference: service, source, target and kind
	// (none to a file with no services).
	for i := 0; i+2 < len(spec) && i < 3*16 && len(services) > 0; i += 3 {
		svc := &services[int(spec[i])%len(services)]
		target := targets[int(spec[i+2]>>1)%len(targets)]
		if spec[i+2]&1 == 0 {
			src := pick(secretKeys, spec[i+1])
			if target == "same" {
				target = src
			}
			svc.Secrets = append(svc.Secrets, types.ServiceSecretConfig{Source: src, Target: target})
		} else {
			src := pick(configKeys, spec[i+1])
			if target == "same" {
				target = src
			}
			svc.Configs = append(svc.Configs, types.ServiceConfigObjConfig{Source: src, Target: target})
		}
	}
	// The last byte picks which keys are versioned: bit i%8 for the i-th key.
	var mask byte
	if len(spec) > 0 {
		mask = spec[len(spec)-1]
	}
	names := map[Kind]map[string]string{Secret: {}, Config: {}}
	version := func(name string) string {
		h := sha256.Sum256(append([]byte(name), spec...))
		return name + "." + hex.EncodeToString(h[:])[:12]
	}
	for i, key := range secretKeys {
		if mask&(1<<(i%8)) != 0 {
			names[Secret][key] = version(p.swarmName(key, p.Config.Secrets[key].Name))
		}
	}
	for i, key := range configKeys {
		if mask&(1<<((i+3)%8)) != 0 {
			names[Config][key] = version(p.swarmName(key, p.Config.Configs[key].Name))
		}
	}
	return names
}

func snapshotServices(s types.Services) map[string]types.ServiceConfig {
	out := make(map[string]types.ServiceConfig, len(s))
	for _, svc := range s {
		svc.Secrets = slices.Clone(svc.Secrets)
		svc.Configs = slices.Clone(svc.Configs)
		out[svc.Name] = svc
	}
	return out
}

func copyMap[M ~map[string]V, V any](m M) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func checkObject(t *testing.T, kind, key string, versions map[string]string, got types.FileObjectConfig, before types.FileObjectConfig, existed bool, swarmName string) {
	t.Helper()
	if !existed {
		t.Fatalf("%ss.%s appeared", kind, key)
	}
	name, versioned := versions[key]
	if !versioned {
		if !reflect.DeepEqual(got, before) {
			t.Fatalf("%ss.%s is not versioned but changed: %+v -> %+v", kind, key, before, got)
		}
		return
	}
	if m := versionName.FindStringSubmatch(got.Name); m == nil || m[1] != swarmName || got.Name != name {
		t.Fatalf("%ss.%s: name %q, want %q (%s.<hash>)", kind, key, got.Name, name, swarmName)
	}
	if !got.External.External || got.File != "" || got.Driver != "" || got.TemplateDriver != "" {
		t.Fatalf("%ss.%s: versioned object is not a bare external: %+v", kind, key, got)
	}
}

func checkRef(t *testing.T, svc string, versions map[string]string, got, before types.FileReferenceConfig) {
	t.Helper()
	want := before
	if _, versioned := versions[before.Source]; versioned && before.Target == "" {
		want.Target = before.Source
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("service %s: reference %+v became %+v, want %+v", svc, before, got, want)
	}
}

// checkConverted: where docker's converter takes the rewritten project,
// the swarm references to each version are exactly the service's
// references to its key, mounted at the target it had or the key.
func checkConverted(t *testing.T, p *Project, names map[Kind]map[string]string, before map[string]types.ServiceConfig) {
	t.Helper()
	specs, err := p.Convert(context.Background())
	if err != nil {
		return // docker rejects it (an undefined secret, a duplicate target, ...): not ours to check
	}
	versionedNames := func(kind Kind) map[string]bool {
		out := map[string]bool{}
		for _, n := range names[kind] {
			out[n] = true
		}
		return out
	}
	vSecrets, vConfigs := versionedNames(Secret), versionedNames(Config)
	for sname, svc := range before {
		spec, ok := specs.Services["st_"+sname]
		if !ok {
			t.Fatalf("service %s missing from the converted specs", sname)
		}
		var want, got []string
		for _, ref := range svc.Secrets {
			if v, ok := names[Secret][ref.Source]; ok {
				want = append(want, v+" at "+orDefault(ref.Target, ref.Source))
			}
		}
		for _, ref := range svc.Configs {
			if v, ok := names[Config][ref.Source]; ok {
				want = append(want, v+" at "+orDefault(ref.Target, ref.Source))
			}
		}
		for _, r := range spec.TaskTemplate.ContainerSpec.Secrets {
			if vSecrets[r.SecretName] && r.File != nil {
				got = append(got, r.SecretName+" at "+r.File.Name)
			}
		}
		for _, r := range spec.TaskTemplate.ContainerSpec.Configs {
			if vConfigs[r.ConfigName] && r.File != nil {
				got = append(got, r.ConfigName+" at "+r.File.Name)
			}
		}
		sort.Strings(want)
		sort.Strings(got)
		if strings.Join(want, "\n") != strings.Join(got, "\n") {
			t.Fatalf("service %s: swarm references to versions:\n%s\nwant:\n%s", sname, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

func orDefault(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
