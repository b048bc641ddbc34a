package compose

// An adversarial review of the converter against docker's: inputs the
// repository's files and the oracle's cases do not reach (rarely used
// keys, odd but valid spellings, foreign files' habits), each converted
// with both converters by sameAsDocker.

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	composetypes "github.com/docker/cli/cli/compose/types"
)

// reviewCases are compose files in full (a version: line is added when
// the case has none, unless bare), with the files they read and the environment they
// are interpolated with.
var reviewCases = []struct {
	name  string
	yaml  string
	files map[string]string
	env   []string
	// bare: the file says no version (a compose specification file).
	bare bool
}{
	{name: "dnsrr with ports and upper-case modes", yaml: `
services:
  a:
    image: a
    ports: ["80:80", {target: 81, published: 8081, mode: host}]
    deploy: {endpoint_mode: DNSRR}
  b: {image: a, deploy: {endpoint_mode: vip}, ports: ["90"]}
`},
	{name: "jobs", yaml: `
services:
  rjob0: {image: a, deploy: {mode: replicated-job, replicas: 0}}
  rjob-restart: {image: a, deploy: {mode: replicated-job, replicas: 2, restart_policy: {condition: none}}}
  gjob-placed: {image: a, deploy: {mode: global-job, placement: {max_replicas_per_node: 1}}}
  global-placed: {image: a, deploy: {mode: global, placement: {max_replicas_per_node: 2, constraints: [node.platform.os==linux]}}}
`},
	{name: "rollback and update edge values", yaml: `
services:
  a:
    image: a
    deploy:
      update_config: {parallelism: 0, failure_action: rollback, monitor: 0s, max_failure_ratio: 0, order: stop-first}
      rollback_config: {parallelism: 2, delay: 0s, failure_action: pause, monitor: 1h, max_failure_ratio: 1, order: start-first}
  b: {image: a, deploy: {rollback_config: {}}}
`},
	{name: "resources pids and generic", yaml: `
services:
  a:
    image: a
    deploy:
      resources:
        limits: {cpus: "0.000000001", memory: 1k, pids: 0}
        reservations:
          generic_resources:
            - discrete_resource_spec: {kind: fpga, value: 0}
  b: {image: a, deploy: {resources: {reservations: {cpus: "2", memory: 1gb}}}}
  c: {image: a, deploy: {resources: {limits: {cpus: "4"}}}}
`},
	{name: "healthcheck spellings", yaml: `
services:
  start-interval-only: {image: a, healthcheck: {start_interval: 1s}}
  none-string: {image: a, healthcheck: {test: NONE}}
  none-list-extra: {image: a, healthcheck: {test: [NONE, x]}}
  cmd-shell: {image: a, healthcheck: {test: [CMD-SHELL, "exit 0"], retries: 0}}
  disable-false: {image: a, healthcheck: {disable: false, test: [CMD, "true"], retries: 5}}
  empty: {image: a, healthcheck: {}}
  zero-durations: {image: a, healthcheck: {test: [CMD, x], interval: 0s, timeout: 0s, start_period: 0s}}
`},
	{name: "healthcheck disabled with empty test", yaml: `
services:
  a: {image: a, healthcheck: {disable: true, test: []}}
`},
	{name: "credential spec config at a file target too", yaml: `
services:
  a:
    image: a
    configs: [{source: cred, target: /cred.json}, {source: other, target: /o}]
    credential_spec: {config: cred}
configs:
  cred: {file: ./cred.json}
  other: {file: ./o}
`},
	{name: "credential spec config named like another key", yaml: `
services:
  a:
    image: a
    configs: [a]
    credential_spec: {config: cred}
configs:
  a: {file: ./a, name: cred}
  cred: {file: ./c, name: zzz}
`},
	{name: "credential spec config named with stack prefix", yaml: `
services:
  a: {image: a, credential_spec: {config: cred}}
configs:
  cred: {file: ./c, name: review_cred}
`},
	{name: "logging without driver", yaml: `
services:
  empty: {image: a, logging: {}}
  opts: {image: a, logging: {options: {tag: "{{.Name}}"}}}
  driver: {image: a, logging: {driver: json-file}}
`},
	{name: "volume short syntax options", yaml: `
services:
  a:
    image: a
    volumes:
      - data:/d:nocopy
      - data:/r:ro,nocopy
      - /h:/p:rshared
      - /h:/z:z
      - /h:/Z:ro,Z
      - /h:/c:cached
      - /h:/del:delegated
      - ./:/cwd
      - ~/x:/home
      - data:/sub
volumes:
  data:
`, env: []string{"HOME=/home/review"}},
	{name: "volume long syntax options", yaml: `
services:
  a:
    image: a
    volumes:
      - {type: volume, source: data, target: /s, volume: {subpath: sub/dir}}
      - {type: volume, source: data, target: /e, volume: {}}
      - {type: bind, source: /h, target: /b, bind: {}}
      - {type: bind, source: /h, target: /b2, read_only: true, consistency: consistent, bind: {propagation: rslave}}
      - {type: tmpfs, target: /t, tmpfs: {size: 0}}
      - {type: tmpfs, target: /t2, tmpfs: {}, read_only: true}
      - {type: volume, target: /anon, read_only: true}
      - {type: volume, source: ext, target: /x, volume: {nocopy: true}}
      - {type: volume, source: drvonly, target: /dro}
      - {type: volume, source: optsonly, target: /oo}
      - {type: volume, source: emptyopts, target: /eo}
      - {type: cluster, source: "group:g", target: /g, read_only: true}
      - {type: cluster, source: ext, target: /cx}
volumes:
  data: {}
  ext: {external: true, name: outside}
  drvonly: {driver: local}
  optsonly: {driver_opts: {o: bind}}
  emptyopts: {driver_opts: {}}
`},
	{name: "external objects by legacy name", yaml: `
version: "3.5"
services:
  a: {image: a, volumes: ["legacy:/l", "plain:/p"], networks: [legacy], secrets: [x]}
volumes:
  legacy: {external: {name: legacy-name}}
  plain: {external: true}
networks:
  legacy: {external: {name: legacy-net}}
secrets:
  x: {external: {name: legacy-secret}}
`},
	{name: "ports unusual forms", yaml: `
services:
  a:
    image: a
    ports:
      - "8080-8081:80-81/udp"
      - "127.0.0.1::90"
      - "9999:99/sctp"
      - "7000-7001"
      - "0.0.0.0:6000:60/tcp"
      - {target: 70, protocol: sctp}
      - {target: 71, mode: host}
      - {target: 73, published: 0}
      - "[::1]:5353:53/udp"
`},
	{name: "extra_hosts forms", yaml: `
services:
  list: {image: a, extra_hosts: ["a:1.2.3.4", "b:::1", "c:[::2]", "host.docker.internal:host-gateway"]}
  map: {image: a, extra_hosts: {z: "::3", a: 1.1.1.1}}
`},
	{name: "dns forms", yaml: `
services:
  s: {image: a, dns: 9.9.9.9}
  l: {image: a, dns: []}
  empty-search: {image: a, dns_search: []}
  zone: {image: a, dns: ["fe80::1%eth0", "::ffff:1.2.3.4"]}
`},
	{name: "ulimits sysctls caps", yaml: `
services:
  a:
    image: a
    ulimits: {nofile: {soft: 1, hard: 2}, nproc: 3, memlock: -1}
    sysctls: {net.ipv4.ip_forward: 1, kernel.msgmax: "65536"}
    cap_add: [all, net_raw]
    cap_drop: [ALL]
  b:
    image: a
    sysctls: [a.b=, c.d=e=f]
    cap_add: [CAP_CHOWN, chown, Cap_Kill]
    cap_drop: [cap_chown, KILL, RESET]
  c: {image: a, cap_drop: [all], cap_add: [NET_BIND_SERVICE]}
`},
	{name: "container scalars", yaml: `
services:
  a:
    image: a
    init: false
    stop_grace_period: 0s
    user: nobody
    hostname: "{{.Node.Hostname}}-{{.Task.Slot}}"
    working_dir: /w
    isolation: default
    entrypoint: []
    command: ""
    read_only: false
    tty: false
    stop_signal: "9"
  b:
    image: a
    isolation: hyperv
    entrypoint: ["/bin/sh", "-c"]
    command: ["echo", "$$HOME"]
    stop_grace_period: 2h
`},
	{name: "labels with interpolation", yaml: `
services:
  a:
    image: ${IMG:-busybox}:${TAG}
    labels:
      com.example.env: ${ENVNAME}
      com.example.default: ${UNSET:-fallback}
      com.example.empty: ""
      com.docker.stack.namespace: mine
    deploy:
      labels:
        - com.example.d=${ENVNAME}
        - com.docker.stack.image=other
        - bare
`, env: []string{"TAG=1.0", "ENVNAME=prod"}},
	{name: "network attachments", yaml: `
services:
  a:
    image: a
    networks:
      front: {ipv4_address: 10.1.0.5, aliases: [x, y]}
      back: null
      named: {aliases: []}
      hostnet: {}
      bridgenet:
  b: {image: a, networks: {default: {aliases: [d]}}}
networks:
  front: {ipam: {config: [{subnet: 10.1.0.0/16}]}}
  back:
  named: {name: "${NETNAME}"}
  hostnet: {external: true, name: host}
  bridgenet: {external: true, name: bridge}
`, env: []string{"NETNAME=net-from-env"}},
	{name: "default network named", yaml: `
services:
  a: {image: a}
  b: {image: a, networks: [default, extra]}
networks:
  default: {name: my-default, driver: overlay, attachable: true}
  extra: {external: true}
`},
	{name: "network ipam odd", yaml: `
services:
  a: {image: a, networks: [n, m]}
networks:
  n: {ipam: {config: []}}
  m: {ipam: {driver: default, config: [{subnet: "2001:db8::/48"}]}, driver_opts: {}, labels: {}}
`},
	{name: "secrets and configs targets", yaml: `
services:
  a:
    image: a
    secrets:
      - {source: s, target: /abs/path}
      - {source: s, target: rel/path}
      - {source: s, target: "", uid: "", gid: "", mode: 0}
      - {source: t, mode: 256}
    configs:
      - {source: c, target: /etc/c, uid: "0", gid: "0", mode: 0444}
      - {source: c, target: c2, mode: 0755}
      - {source: d}
secrets:
  s: {file: ./s}
  t: {external: true, name: "${SECRETNAME}"}
configs:
  c: {file: ./c, template_driver: golang}
  d: {file: ./d, name: configured}
`, env: []string{"SECRETNAME=from-env"}},
	{name: "odd service names", yaml: `
services:
  web.1: {image: a}
  Web-Two_3: {image: a, networks: [n.dot]}
  "9lives": {image: a}
networks:
  n.dot: {}
`},
	{name: "environment edge values", yaml: `
services:
  a:
    image: a
    env_file: [./one.env, ./two.env]
    environment:
      EMPTY: ""
      NUM: 1
      BOOL: "true"
      FROMENV: ${FROMENV}
      UNSETVAR: ${NOPE}
      NULLED:
  b:
    image: a
    env_file: ./one.env
    environment: [ONLYKEY, "SPACES=a b", "=weird"]
`, files: map[string]string{
		"one.env": "A=1\nOVER=one\n# comment\nEMPTYFILE=\nQUOTED=\"q v\"\n",
		"two.env": "OVER=two\nB=2\n",
	}, env: []string{"FROMENV=yes", "ONLYKEY=from-shell"}},
	{name: "restart and restart_policy", yaml: `
services:
  a: {image: a, restart: "on-failure:0"}
  b: {image: a, restart: "unless-stopped", deploy: {restart_policy: {condition: any, max_attempts: 0}}}
  c: {image: a, deploy: {restart_policy: {condition: none, delay: 0s, window: 0s}}}
`},
	{name: "placement empty", yaml: `
services:
  a: {image: a, deploy: {placement: {preferences: []}}}
  b: {image: a, deploy: {placement: {}}}
  c: {image: a, deploy: {}}
`},
	{name: "extension fields and anchors", yaml: `
x-common: &common
  image: shared
  labels: {com.example.shared: "1"}
  deploy: {labels: {com.example.d: "1"}, replicas: 2}
services:
  a: *common
  b:
    <<: *common
    image: other
`},
	{name: "compose specification file without version", yaml: `
name: ignored-by-stack-flag
services:
  web:
    image: nginx
    profiles: [web]
    networks: [front]
  api:
    image: api
    depends_on: {db: {condition: service_healthy}}
    networks: [back]
    secrets: [token]
  db: {image: postgres, networks: [back]}
networks:
  front: {}
  back: {}
secrets:
  token: {content: "inline"}
`, bare: true},
	{name: "secret from environment", yaml: `
services:
  a: {image: a, secrets: [{source: tok, target: /run/t, mode: 0400}], configs: [{source: conf}]}
secrets:
  tok: {environment: TOK}
configs:
  conf: {content: "x=1", name: fixed-conf}
`, env: []string{"TOK=s3cret"}},
}

func TestReviewConvertMatchesDocker(t *testing.T) {
	for _, tc := range reviewCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			yaml := tc.yaml
			if !tc.bare && !strings.Contains(yaml, "\nversion:") {
				yaml = "version: \"3.13\"\n" + yaml
			}
			file := filepath.Join(dir, "compose.yml")
			if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			load := func() (*Project, error) {
				return Load(context.Background(), Options{Files: []string{file}, Env: append([]string{}, tc.env...), Stack: "review"})
			}
			if _, err := load(); err != nil {
				t.Fatalf("the case does not load: %v", err)
			}
			if !sameAsDocker(t, load) {
				t.Errorf("the case converts with neither converter; it is meant to convert")
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
}

// goReviewCases are services as Go values, with what the loader never
// gives: nil entries, empty values where docker reads a pointer.
var goReviewCases = []struct {
	name string
	svc  composetypes.ServiceConfig
}{
	{"nil network entries", composetypes.ServiceConfig{Networks: map[string]*composetypes.ServiceNetworkConfig{"default": nil, "hostnet": nil}}},
	{"logging without options", composetypes.ServiceConfig{Logging: &composetypes.LoggingConfig{}}},
	{"secret mode zero", composetypes.ServiceConfig{Secrets: []composetypes.ServiceSecretConfig{{Source: "s", Mode: new(uint32(0))}}}},
	{"config uid only", composetypes.ServiceConfig{Configs: []composetypes.ServiceConfigObjConfig{{Source: "c", UID: "7"}}}},
	{"empty generic resources", composetypes.ServiceConfig{Deploy: composetypes.DeployConfig{Resources: composetypes.Resources{Reservations: &composetypes.Resource{GenericResources: []composetypes.GenericResource{}}}}}},
	{"empty dns list with search", composetypes.ServiceConfig{DNS: composetypes.StringList{}, DNSSearch: composetypes.StringList{"x"}}},
	{"ulimit zero", composetypes.ServiceConfig{Ulimits: map[string]*composetypes.UlimitsConfig{"core": {}}}},
	{"placement preference empty spread", composetypes.ServiceConfig{Deploy: composetypes.DeployConfig{Placement: composetypes.Placement{Preferences: []composetypes.PlacementPreferences{{}}}}}},
}

func TestReviewConvertMatchesDockerOnGoValues(t *testing.T) {
	for _, tc := range goReviewCases {
		t.Run(tc.name, func(t *testing.T) {
			converted := sameAsDocker(t, func() (*Project, error) {
				svc := tc.svc
				svc.Name, svc.Image = "s", "img"
				return &Project{Stack: "go", Files: []string{"go.yml"}, Config: &composetypes.Config{
					Services: []composetypes.ServiceConfig{svc},
					Secrets:  map[string]composetypes.SecretConfig{"s": {File: "s"}},
					Configs:  map[string]composetypes.ConfigObjConfig{"c": {File: "c", Name: "named-c"}},
					Networks: map[string]composetypes.NetworkConfig{"hostnet": {Name: "host", External: composetypes.External{External: true}}},
				}}, nil
			})
			if !converted {
				t.Errorf("the case converts with neither converter; it is meant to convert")
			}
		})
	}
}
