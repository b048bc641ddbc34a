package compose

// The oracle of stackctl's converter is docker's own: this test converts
// every compose file of testdata/ and examples/ that loads, and the cases
// below for what those files do not use, with both, and requires the
// same specs, networks and errors. docker's converter is imported by this
// test only, so it never reaches the binary.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/docker/cli/cli/compose/convert"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// dockerConvert is Convert as it was when it called docker's converter:
// convert.Networks and convert.Services with a client that answers the
// secret and config lookups with PendingID+name, and the same wording of
// errors to the user.
func dockerConvert(ctx context.Context, p *Project) (*Specs, error) {
	cfg := p.Config
	ns := convert.NewNamespace(p.Stack)
	used := map[string]struct{}{}
	for _, svc := range cfg.Services {
		if len(svc.Networks) == 0 {
			used["default"] = struct{}{}
		}
		for n := range svc.Networks {
			used[n] = struct{}{}
		}
	}
	specs := &Specs{}
	specs.Networks, specs.ExternalNetworks = convert.Networks(ns, cfg.Networks, used)
	for name, opts := range specs.Networks {
		if opts.Driver == "" {
			opts.Driver = "overlay"
			specs.Networks[name] = opts
		}
	}
	sort.Strings(specs.ExternalNetworks)
	byShort, err := convert.Services(ctx, ns, cfg, pendingClient{})
	if err != nil {
		msg := err.Error()
		if m := dockerUndefinedRef.FindStringSubmatch(msg); m != nil {
			err = fmt.Errorf("services.%s: refers to undefined %s %s: define %s under the top-level %ss:, or fix the reference", m[1], m[2], m[3], m[3], m[2])
		} else {
			err = errors.New(oneLine(msg))
		}
		return nil, fmt.Errorf("%s: %w", p.where(), err)
	}
	specs.Services = map[string]swarm.ServiceSpec{}
	for short, spec := range byShort {
		specs.Services[ns.Scope(short)] = spec
	}
	return specs, nil
}

var dockerUndefinedRef = regexp.MustCompile(`^service ([^:]*): undefined (secret|config|network) "([^"]*)"$`)

// pendingClient answers docker's secret and config lookups with
// PendingID+name, so that converting needs no engine.
type pendingClient struct {
	client.APIClient // nil: any other call panics
}

func (pendingClient) SecretList(_ context.Context, opts client.SecretListOptions) (client.SecretListResult, error) {
	var out client.SecretListResult
	for name := range opts.Filters["name"] {
		out.Items = append(out.Items, swarm.Secret{ID: PendingID + name, Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: name}}})
	}
	return out, nil
}

func (pendingClient) ConfigList(_ context.Context, opts client.ConfigListOptions) (client.ConfigListResult, error) {
	var out client.ConfigListResult
	for name := range opts.Filters["name"] {
		out.Items = append(out.Items, swarm.Config{ID: PendingID + name, Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: name}}})
	}
	return out, nil
}

// inDockerTieOrder orders what docker leaves in map order: a secret or
// config read at two targets (docker sorts by name only, stably, after
// walking a map), the way stackctl orders it: by target, a config's
// runtime reference after its files.
func inDockerTieOrder(specs *Specs) {
	for _, s := range specs.Services {
		c := s.TaskTemplate.ContainerSpec
		slices.SortStableFunc(c.Secrets, func(a, b *swarm.SecretReference) int {
			return cmp.Or(cmp.Compare(a.SecretName, b.SecretName), cmp.Compare(a.File.Name, b.File.Name))
		})
		slices.SortStableFunc(c.Configs, func(a, b *swarm.ConfigReference) int {
			return cmp.Or(cmp.Compare(a.ConfigName, b.ConfigName), cmp.Compare(btoi(a.File == nil), btoi(b.File == nil)), cmp.Compare(configTarget(a), configTarget(b)))
		})
	}
}

// sameAsDocker converts the project load gives, with stackctl's
// converter and with docker's, and fails on any difference. load is
// called three times: docker's converter writes its labels into the
// project, and stackctl's must leave it as loaded. It says whether the
// project converted.
func sameAsDocker(t *testing.T, load func() (*Project, error)) bool {
	t.Helper()
	ctx := context.Background()
	mustLoad := func() *Project {
		p, err := load()
		if err != nil {
			t.Fatalf("loads once, not again: %v", err)
		}
		return p
	}
	ours, pristine, theirs := mustLoad(), mustLoad(), mustLoad()
	got, gotErr := ours.Convert(ctx)
	if !reflect.DeepEqual(ours.Config, pristine.Config) {
		t.Errorf("Convert changed the project")
	}
	want, wantErr := dockerConvert(ctx, theirs)
	switch {
	case gotErr != nil || wantErr != nil:
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Errorf("errors differ:\n ours:   %v\n docker: %v", gotErr, wantErr)
		}
		return false
	}
	inDockerTieOrder(want)
	if !reflect.DeepEqual(got.Networks, want.Networks) {
		t.Errorf("networks differ:\n ours:   %+v\n docker: %+v", got.Networks, want.Networks)
	}
	if !reflect.DeepEqual(got.ExternalNetworks, want.ExternalNetworks) {
		t.Errorf("external networks differ:\n ours:   %q\n docker: %q", got.ExternalNetworks, want.ExternalNetworks)
	}
	if !reflect.DeepEqual(slices.Sorted(maps.Keys(got.Services)), slices.Sorted(maps.Keys(want.Services))) {
		t.Fatalf("services differ: ours %q, docker %q", slices.Sorted(maps.Keys(got.Services)), slices.Sorted(maps.Keys(want.Services)))
	}
	for name, w := range want.Services {
		if g := got.Services[name]; !reflect.DeepEqual(g, w) {
			t.Errorf("service %s differs:\n%s", name, specDiff(g, w))
		}
	}
	return true
}

// specDiff names the fields of two specs that differ, by path.
func specDiff(a, b any) string {
	var out []string
	var walk func(path string, x, y reflect.Value)
	walk = func(path string, x, y reflect.Value) {
		if x.IsValid() && y.IsValid() && reflect.DeepEqual(x.Interface(), y.Interface()) {
			return
		}
		if x.IsValid() && y.IsValid() && x.Kind() == y.Kind() {
			switch x.Kind() {
			case reflect.Pointer:
				if !x.IsNil() && !y.IsNil() {
					walk(path, x.Elem(), y.Elem())
					return
				}
			case reflect.Struct:
				for i := range x.NumField() {
					walk(path+"."+x.Type().Field(i).Name, x.Field(i), y.Field(i))
				}
				return
			case reflect.Slice:
				if x.Len() == y.Len() && x.IsNil() == y.IsNil() {
					for i := range x.Len() {
						walk(fmt.Sprintf("%s[%d]", path, i), x.Index(i), y.Index(i))
					}
					return
				}
			}
		}
		out = append(out, fmt.Sprintf("  %s: ours %s, docker %s", path, show(x), show(y)))
	}
	walk("", reflect.ValueOf(a), reflect.ValueOf(b))
	return strings.Join(out, "\n")
}

func show(v reflect.Value) string {
	if !v.IsValid() {
		return "<none>"
	}
	if (v.Kind() == reflect.Slice || v.Kind() == reflect.Map || v.Kind() == reflect.Pointer) && v.IsNil() {
		return "nil"
	}
	return fmt.Sprintf("%#v", v.Interface())
}

// fixture is a compose file of the repository (or files merged in order)
// and what it is loaded with.
type fixture struct {
	name     string
	files    []string
	env      []string
	envFiles []string
}

// repoFixtures are every .yml and .yaml under testdata/ and examples/,
// each loaded alone (with the env: of a conformance case's SOURCE), and
// the files the examples merge.
func repoFixtures(t *testing.T) []fixture {
	t.Helper()
	var out []fixture
	for _, root := range []string{"../testdata", "../examples"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".yml") || strings.HasSuffix(path, ".yaml")) {
				return err
			}
			out = append(out, fixture{name: strings.TrimPrefix(path, "../"), files: []string{path}, env: sourceEnv(t, filepath.Dir(path))})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	out = append(out, fixture{
		name:     "examples/multi-env prod",
		files:    []string{"../examples/multi-env/compose.yml", "../examples/multi-env/compose.prod.yml"},
		envFiles: []string{"../examples/multi-env/prod.env"},
	})
	return out
}

// sourceEnv is the env: line of a conformance case's SOURCE, if any.
func sourceEnv(t *testing.T, dir string) []string {
	b, err := os.ReadFile(filepath.Join(dir, "SOURCE"))
	if errors.Is(err, fs.ErrNotExist) {
		return []string{"IMAGE=example/app:1"} // testdata/parity's image
	}
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "env: "); ok {
			env = append(env, strings.Fields(rest)...)
		}
	}
	return env
}

// withVersions is the project as deploy converts it: every secret and
// config stackctl versions turned external under a version name.
func withVersions(p *Project) *Project {
	names := map[Kind]map[string]string{Secret: {}, Config: {}}
	for key, s := range p.Config.Secrets {
		if !s.External.External {
			names[Secret][key] = "v_" + key + ".0123456789ab"
		}
	}
	for key, c := range p.Config.Configs {
		if !c.External.External {
			names[Config][key] = "v_" + key + ".0123456789ab"
		}
	}
	p.UseVersions(names)
	return p
}

func TestConvertMatchesDockerOnRepoFiles(t *testing.T) {
	loaded, converted := 0, 0
	for _, f := range repoFixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			load := func() (*Project, error) {
				return Load(context.Background(), Options{Files: f.files, EnvFiles: f.envFiles, Env: append([]string{}, f.env...), Stack: "conf"})
			}
			if _, err := load(); err != nil {
				return // not a compose file, or one docker's loader rejects: nothing to convert
			}
			loaded++
			if sameAsDocker(t, load) {
				converted++
			}
			// As deploy converts it: secrets and configs versioned.
			sameAsDocker(t, func() (*Project, error) {
				p, err := load()
				if err != nil {
					return nil, err
				}
				return withVersions(p), nil
			})
		})
	}
	t.Logf("%d files loaded, %d converted, all as docker converts them", loaded, converted)
	// The corpus has some 150 files that load; fewer means the walk broke.
	if loaded < 120 || converted < 100 {
		t.Errorf("only %d files loaded and %d converted: the walk of testdata/ and examples/ missed files", loaded, converted)
	}
}

// yamlCases are what the repository's files do not use, each a compose
// file in full; each converts, or fails, as docker's converter does.
var yamlCases = []struct{ name, yaml string }{
	{"modes", `
services:
  replicated: {image: a, deploy: {mode: replicated, replicas: 3}}
  default-mode: {image: a}
  zero: {image: a, deploy: {replicas: 0}}
  global: {image: a, deploy: {mode: global}}
  rjob: {image: a, deploy: {mode: replicated-job, replicas: 4}}
  rjob-no-replicas: {image: a, deploy: {mode: replicated-job}}
  gjob: {image: a, deploy: {mode: global-job}}
`},
	{"global with replicas", `
services:
  a: {image: a, deploy: {mode: global, replicas: 2}}
`},
	{"global-job with replicas", `
services:
  a: {image: a, deploy: {mode: global-job, replicas: 2}}
`},
	{"unknown mode", `
services:
  a: {image: a, deploy: {mode: sometimes}}
`},
	{"ports every form", `
services:
  a:
    image: a
    ports:
      - "9090:90/udp"
      - "80"
      - "8080:80"
      - "127.0.0.1:7070:70"
      - "9000-9001:9000-9001"
      - 5000
      - {target: 443, published: 8443, mode: host}
      - {target: 53, published: 5353, protocol: udp, mode: ingress}
      - {target: 22}
    deploy: {endpoint_mode: VIP}
  b: {image: a, deploy: {endpoint_mode: dnsrr}}
`},
	{"mounts every type", `
services:
  a:
    image: a
    volumes:
      - named:/data
      - /anon
      - ./rel:/rel:ro
      - /abs:/abs:rw
      - ext:/ext
      - renamed:/renamed:nocopy
      - {type: volume, source: named, target: /long, read_only: true, volume: {nocopy: true}, consistency: cached}
      - {type: volume, target: /anon-long, volume: {nocopy: true}}
      - {type: bind, source: /host, target: /bind, bind: {propagation: rshared}}
      - {type: tmpfs, target: /tmp, tmpfs: {size: 4096}}
      - {type: tmpfs, target: /tmp2}
      - {type: npipe, source: \\.\pipe\docker_engine, target: \\.\pipe\docker_engine}
      - {type: npipe, source: \\.\pipe\x, target: \\.\pipe\y, bind: {propagation: private}}
      - {type: cluster, source: group:fast, target: /grp}
      - {type: cluster, source: clustered, target: /clu}
      - {type: cluster, source: renamed, target: /clu2}
volumes:
  named:
    driver: local
    driver_opts: {type: nfs, o: "addr=10.0.0.1"}
    labels: {com.example: "1"}
  ext: {external: true}
  renamed: {name: really-named}
  clustered: {}
`},
	{"undefined volume", `
services:
  a: {image: a, volumes: [{type: volume, source: nope, target: /x}]}
`},
	{"undefined cluster volume", `
services:
  a: {image: a, volumes: [{type: cluster, source: nope, target: /x}]}
`},
	{"unknown mount type", `
services:
  a: {image: a, volumes: [{type: weird, source: x, target: /x}]}
`},
	{"tmpfs with source", `
services:
  a: {image: a, volumes: [{type: tmpfs, source: x, target: /x}]}
`},
	{"tmpfs with bind options", `
services:
  a: {image: a, volumes: [{type: tmpfs, target: /x, bind: {propagation: shared}}]}
`},
	{"volume with tmpfs options", `
services:
  a: {image: a, volumes: [{type: volume, source: v, target: /x, tmpfs: {size: 1}}]}
volumes: {v: {}}
`},
	{"cluster with volume options", `
services:
  a: {image: a, volumes: [{type: cluster, source: v, target: /x, volume: {nocopy: true}}]}
volumes: {v: {}}
`},
	{"image mount without source", `
services:
  a: {image: a, volumes: [{type: image, target: /x}]}
`},
	{"image mount", `
services:
  a: {image: a, volumes: [{type: image, source: busybox, target: /x}]}
`},
	{"npipe without source", `
services:
  a: {image: a, volumes: [{type: npipe, target: /x}]}
`},
	{"healthchecks", `
services:
  full:
    image: a
    healthcheck: {test: ["CMD", "true"], interval: 1s, timeout: 2s, retries: 0, start_period: 3s, start_interval: 4s}
  shell: {image: a, healthcheck: {test: "curl -f localhost"}}
  disabled: {image: a, healthcheck: {disable: true}}
  none: {image: a, healthcheck: {test: ["NONE"]}}
  only-interval: {image: a, healthcheck: {interval: 10s}}
`},
	{"healthcheck test and disable", `
services:
  a: {image: a, healthcheck: {test: ["CMD", "true"], disable: true}}
`},
	{"restart", `
services:
  always: {image: a, restart: always}
  unless: {image: a, restart: unless-stopped}
  onfail: {image: a, restart: on-failure}
  onfail3: {image: a, restart: "on-failure:3"}
  no: {image: a, restart: "no"}
  policy:
    image: a
    restart: always
    deploy: {restart_policy: {condition: on-failure, delay: 5s, max_attempts: 2, window: 1m}}
  empty-policy: {image: a, deploy: {restart_policy: {}}}
`},
	{"restart unknown", `
services:
  a: {image: a, restart: sometimes}
`},
	{"restart negative", `
services:
  a: {image: a, restart: "on-failure:-1"}
`},
	{"restart count on always", `
services:
  a: {image: a, restart: "always:3"}
`},
	{"resources", `
services:
  a:
    image: a
    deploy:
      resources:
        limits: {cpus: "1.5", memory: 1G, pids: 10}
        reservations:
          cpus: ".25"
          memory: 10M
          generic_resources:
            - discrete_resource_spec: {kind: gpu, value: 2}
            - discrete_resource_spec: {kind: ssd, value: 1}
  limits-only: {image: a, deploy: {resources: {limits: {memory: 5M}}}}
  empty: {image: a, deploy: {resources: {limits: {}, reservations: {}}}}
`},
	{"bad cpus", `
services:
  a: {image: a, deploy: {resources: {limits: {cpus: "lots"}}}}
`},
	{"update and rollback", `
services:
  a:
    image: a
    deploy:
      update_config: {parallelism: 0, delay: 1s, failure_action: continue, monitor: 2s, max_failure_ratio: 0.3, order: start-first}
      rollback_config: {delay: 3s}
  b: {image: a, deploy: {update_config: {}}}
`},
	{"placement", `
services:
  a:
    image: a
    deploy:
      placement:
        constraints: ["node.role==worker", "node.labels.zone == a"]
        preferences: [{spread: node.labels.zone}, {spread: node.labels.rack}]
        max_replicas_per_node: 3
  b: {image: a, deploy: {placement: {constraints: []}}}
`},
	{"dns and hosts", `
services:
  list:
    image: a
    dns: [8.8.8.8, "2001:4860:4860::8888", not-an-ip]
    dns_search: [example.com, example.org]
    extra_hosts: ["somehost:162.242.195.82", "otherhost:50.31.209.229", "v6:::1", "multi:10.0.0.1"]
  string:
    image: a
    dns: 1.1.1.1
    dns_search: example.net
    extra_hosts:
      zeta: 10.0.0.9
      alpha: 10.0.0.8
  only-search: {image: a, dns_search: [x.test]}
  only-bad-dns: {image: a, dns: [nameserver.example]}
`},
	{"environment and labels", `
services:
  a:
    image: a
    environment: [ZED=1, ALPHA, "EMPTY=", "EQ=a=b", MIDDLE=m]
    labels: [com.example.one=1, com.example.two]
    deploy: {labels: {com.example.deploy: "x", com.docker.stack.namespace: "overridden"}}
  b:
    image: a
    environment: {B: "2", A: "1", NOVALUE: null}
    labels: {com.example.map: "m"}
`},
	{"container options", `
services:
  a:
    image: registry.example/team/a:1.2@sha256:0000000000000000000000000000000000000000000000000000000000000000
    entrypoint: /bin/sh -c
    command: echo hi
    user: "1000:1000"
    working_dir: /srv
    hostname: host-a
    isolation: process
    init: false
    read_only: true
    tty: true
    stdin_open: true
    stop_signal: SIGUSR1
    stop_grace_period: 1m30s
    oom_score_adj: -500
    sysctls: [net.core.somaxconn=1024, net.ipv4.tcp_syncookies=0]
    ulimits:
      nproc: 65535
      nofile: {soft: 20000, hard: 40000}
      core: 0
    cap_add: [net_admin, CAP_SYS_TIME, SYS_TIME]
    cap_drop: [mknod, NET_ADMIN, all]
    logging: {driver: syslog, options: {syslog-address: "tcp://192.168.0.42:123"}}
  b:
    image: a
    cap_add: [ALL]
    cap_drop: [NET_RAW]
    init: true
    logging: {driver: none}
    sysctls: {kernel.shmmax: "1"}
  c:
    image: a
    logging: {options: {max-size: 1m}}
`},
	{"networks", `
services:
  list: {image: a, networks: [front, back, hostnet, ext]}
  map:
    image: a
    networks:
      front: {aliases: [web, www]}
      back:
      named: {driver_opts: {com.docker.network.driver.mtu: "1400"}}
  none: {image: a}
  explicit-default: {image: a, networks: [default]}
networks:
  front:
    driver: overlay
    attachable: true
    internal: true
    driver_opts: {encrypted: ""}
    labels: [com.example.net=front]
    ipam:
      driver: default
      config: [{subnet: 10.20.0.0/16}, {subnet: "fd00::/64"}]
  back: {}
  named: {name: globally-named}
  hostnet: {external: true, name: host}
  ext: {external: true}
  unused: {driver: bridge}
  ipam-driver-only: {ipam: {driver: custom}}
`},
	{"default network declared", `
services:
  a: {image: a}
networks:
  default: {driver_opts: {encrypted: "1"}, labels: {x: "1"}}
`},
	{"default network external", `
services:
  a: {image: a}
networks:
  default: {external: true, name: shared}
`},
	{"undefined network", `
services:
  a: {image: a, networks: [nope]}
`},
	{"secrets and configs", `
services:
  a:
    image: a
    secrets:
      - plain
      - {source: long, target: /run/elsewhere, uid: "1000", gid: "1001", mode: 0400}
      - {source: long, target: second}
      - ext
      - named
    configs:
      - conf
      - {source: conf, target: /etc/two.conf, mode: 0444}
      - {source: extconf, uid: "5"}
      - namedconf
  b: {image: a, secrets: [plain]}
  none: {image: a}
secrets:
  plain: {file: ./plain.txt}
  long: {file: ./long.txt, labels: {l: "1"}}
  ext: {external: true}
  named: {file: ./named.txt, name: custom-secret-name}
configs:
  conf: {file: ./conf.txt}
  extconf: {external: true, name: global-conf}
  namedconf: {file: ./named.conf, name: custom-config-name}
`},
	{"undefined secret", `
services:
  a: {image: a, secrets: [nope]}
`},
	{"undefined config", `
services:
  a: {image: a, configs: [nope]}
`},
	{"duplicate secret target", `
services:
  a: {image: a, secrets: [{source: one, target: same}, {source: two, target: same}]}
secrets:
  one: {file: ./one}
  two: {file: ./two}
`},
	{"duplicate config target", `
services:
  a: {image: a, configs: [{source: one, target: /same}, {source: two, target: /same}]}
configs:
  one: {file: ./one}
  two: {file: ./two}
`},
	{"credential specs", `
services:
  by-config:
    image: a
    credential_spec: {config: cred}
  by-config-also-mounted:
    image: a
    configs: [cred]
    credential_spec: {config: cred}
  by-file: {image: a, credential_spec: {file: spec.json}}
  by-registry: {image: a, credential_spec: {registry: spec}}
configs:
  cred: {file: ./cred.json}
`},
	{"credential spec config named", `
services:
  a: {image: a, credential_spec: {config: cred}}
configs:
  cred: {file: ./cred.json, name: other-name}
`},
	{"credential spec config external", `
services:
  a: {image: a, credential_spec: {config: cred}}
configs:
  cred: {external: true}
`},
	{"credential spec undefined config", `
services:
  a: {image: a, credential_spec: {config: nope}}
`},
	{"credential spec two kinds", `
services:
  a: {image: a, credential_spec: {file: x.json, registry: y}}
`},
	{"credential spec three kinds", `
services:
  a: {image: a, credential_spec: {config: c, file: x.json, registry: y}}
configs:
  c: {file: ./c}
`},
	{"first failing service wins", `
services:
  a: {image: a, secrets: [nope]}
  b: {image: a, deploy: {mode: nope}}
`},
}

func TestConvertMatchesDockerOnCases(t *testing.T) {
	for _, tc := range yamlCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "compose.yml")
			if err := os.WriteFile(file, []byte("version: \"3.13\"\n"+tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			load := func() (*Project, error) {
				return Load(context.Background(), Options{Files: []string{file}, Env: []string{}, Stack: "cases"})
			}
			if _, err := load(); err != nil {
				t.Fatalf("the case does not load: %v", err)
			}
			sameAsDocker(t, load)
		})
	}
}

// goCases are what the loader would not let through but the converter
// still handles (a project is a Go value that other code can build).
var goCases = []struct {
	name string
	svc  composetypes.ServiceConfig
}{
	{"untyped named volume", composetypes.ServiceConfig{Volumes: []composetypes.ServiceVolumeConfig{{Source: "v", Target: "/v"}}}},
	{"anonymous volume with options", composetypes.ServiceConfig{Volumes: []composetypes.ServiceVolumeConfig{{Type: "volume", Target: "/v", Volume: &composetypes.ServiceVolumeVolume{NoCopy: true, Subpath: "sub"}}}}},
	{"volume subpath", composetypes.ServiceConfig{Volumes: []composetypes.ServiceVolumeConfig{{Type: "volume", Source: "v", Target: "/v", Volume: &composetypes.ServiceVolumeVolume{Subpath: "sub"}}}}},
	{"volume with image options", composetypes.ServiceConfig{Volumes: []composetypes.ServiceVolumeConfig{{Type: "volume", Source: "v", Target: "/v", Image: &composetypes.ServiceVolumeImage{}}}}},
	{"volume with cluster options", composetypes.ServiceConfig{Volumes: []composetypes.ServiceVolumeConfig{{Type: "volume", Source: "v", Target: "/v", Cluster: &composetypes.ServiceVolumeCluster{}}}}},
	{"image mount with subpath", composetypes.ServiceConfig{Volumes: []composetypes.ServiceVolumeConfig{{Type: "image", Source: "busybox", Target: "/i", Image: &composetypes.ServiceVolumeImage{Subpath: "etc"}}}}},
	{"image mount with cluster options", composetypes.ServiceConfig{Volumes: []composetypes.ServiceVolumeConfig{{Type: "image", Source: "busybox", Target: "/i", Cluster: &composetypes.ServiceVolumeCluster{}}}}},
	{"bind with image options", composetypes.ServiceConfig{Volumes: []composetypes.ServiceVolumeConfig{{Type: "bind", Source: "/h", Target: "/b", Image: &composetypes.ServiceVolumeImage{}}}}},
	{"npipe with cluster options", composetypes.ServiceConfig{Volumes: []composetypes.ServiceVolumeConfig{{Type: "npipe", Source: "p", Target: "p", Cluster: &composetypes.ServiceVolumeCluster{}}}}},
	{"cluster with image options", composetypes.ServiceConfig{Volumes: []composetypes.ServiceVolumeConfig{{Type: "cluster", Source: "group:g", Target: "/c", Image: &composetypes.ServiceVolumeImage{}}}}},
	{"bind without source", composetypes.ServiceConfig{Volumes: []composetypes.ServiceVolumeConfig{{Type: "bind", Target: "/b"}}}},
	{"untyped with bind options", composetypes.ServiceConfig{Volumes: []composetypes.ServiceVolumeConfig{{Source: "v", Target: "/v", Bind: &composetypes.ServiceVolumeBind{}}}}},
	{"generic resource without spec", composetypes.ServiceConfig{Deploy: composetypes.DeployConfig{Resources: composetypes.Resources{Reservations: &composetypes.Resource{GenericResources: []composetypes.GenericResource{{}}}}}}},
	{"network aliases on a built-in network", composetypes.ServiceConfig{Networks: map[string]*composetypes.ServiceNetworkConfig{"hostnet": {Aliases: []string{"a"}}}}},
	{"extra host without colon", composetypes.ServiceConfig{ExtraHosts: composetypes.HostsList{"nocolon", "h:1.2.3.4"}}},
	// docker's loader never fills OomScoreAdj (its key has no mapstructure tag).
	{"oom score adj", composetypes.ServiceConfig{OomScoreAdj: -500}},
	{"ulimit single and soft", composetypes.ServiceConfig{Ulimits: map[string]*composetypes.UlimitsConfig{"nofile": {Single: 5, Soft: 1, Hard: 2}}}},
}

func TestConvertMatchesDockerOnGoValues(t *testing.T) {
	for _, tc := range goCases {
		t.Run(tc.name, func(t *testing.T) {
			sameAsDocker(t, func() (*Project, error) {
				svc := tc.svc
				svc.Name, svc.Image = "s", "img"
				return &Project{Stack: "go", Files: []string{"go.yml"}, Config: &composetypes.Config{
					Services: []composetypes.ServiceConfig{svc},
					Volumes:  map[string]composetypes.VolumeConfig{"v": {Labels: composetypes.Labels{"k": "v"}}},
					Networks: map[string]composetypes.NetworkConfig{"hostnet": {Name: "host", External: composetypes.External{External: true}}},
				}}, nil
			})
		})
	}
}

// The messages users read for a reference to nothing, as before.
func TestConvertExplainsUndefinedReferences(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"services: {web: {image: a, secrets: [api_token]}}", "compose.yml: services.web: refers to undefined secret api_token: define api_token under the top-level secrets:, or fix the reference"},
		{"services: {web: {image: a, configs: [conf]}}", "compose.yml: services.web: refers to undefined config conf: define conf under the top-level configs:, or fix the reference"},
		{"services: {web: {image: a, networks: [front]}}", "compose.yml: services.web: refers to undefined network front: define front under the top-level networks:, or fix the reference"},
		{"services: {web: {image: a, volumes: [{type: volume, source: data, target: /d}]}}", `compose.yml: service web: undefined volume "data"`},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		file := filepath.Join(dir, "compose.yml")
		if err := os.WriteFile(file, []byte("version: \"3.13\"\n"+tt.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := Load(context.Background(), Options{Files: []string{file}, Env: []string{}, Stack: "s"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Convert(context.Background())
		if err == nil || !strings.HasSuffix(err.Error(), tt.want) {
			t.Errorf("%s:\n got  %v\n want ...%s", tt.yaml, err, tt.want)
		}
	}
}

// TestConverterLinksNoDockerCommands guards why this converter exists:
// package compose links none of docker/cli's command packages (docker's
// converter imports cli/command/service, and with it docker's command
// line, swarmkit and etcd's raft).
func TestConverterLinksNoDockerCommands(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps listed %d packages: %q", len(deps), out)
	}
	for _, dep := range deps {
		if dep == "github.com/docker/cli/cli/command" || strings.HasPrefix(dep, "github.com/docker/cli/cli/command/") {
			t.Errorf("package compose links %s", dep)
		}
	}
}
