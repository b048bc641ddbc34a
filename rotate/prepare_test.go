package rotate

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/rotate/plan"
	"github.com/stackctl/stackctl/sopsbridge"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// Canary values from testdata/sops (see sopsbridge/fixtures_test.go) and
// the plain sources used below. None may ever appear in rendered output.
var canaries = []string{"CANARY-db-password-7c1e", "CANARY-api-key-52ab", "CANARY-tls-key-d04f", "CANARY-plain-file-e55d", "CANARY-env-1b9c", "CANARY-content-88aa"}

func testdataDir(t testing.TB) string {
	p, err := filepath.Abs(filepath.Join("..", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// scenario writes files into a fresh folder, with {{sops}} replaced by the
// absolute path of testdata/sops, and returns the folder.
func scenario(t testing.TB, files map[string]string) string {
	dir := t.TempDir()
	sops := filepath.Join(testdataDir(t), "sops")
	for name, content := range files {
		content = strings.ReplaceAll(content, "{{sops}}", sops)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func desiredForDir(t *testing.T, dir string, env []string) *plan.Desired {
	t.Helper()
	d, err := Prepare(context.Background(), compose.Options{Files: []string{filepath.Join(dir, "compose.yml")}, Stack: "shop", Env: env})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func withTestKey(t testing.TB) {
	t.Setenv("SOPS_AGE_KEY_FILE", filepath.Join(testdataDir(t), "age", "test-key.txt"))
}

var renderCases = []struct {
	name  string
	files map[string]string
	args  []string // compose files, relative to the scenario folder
	env   []string
	stack string
}{
	{
		name: "plain-sources",
		files: map[string]string{
			"compose.yml": `
services:
  web:
    image: example/web:1
    secrets:
      - db_password
      - source: api_key
        target: /etc/app/api.key
        uid: "1000"
        gid: "1000"
        mode: 0400
    configs:
      - app_conf
secrets:
  db_password:
    file: ./db_password.txt
  api_key:
    environment: API_KEY
configs:
  app_conf:
    content: |
      greeting=CANARY-content-88aa
`,
			"db_password.txt": "CANARY-plain-file-e55d",
		},
		env:   []string{"API_KEY=CANARY-env-1b9c"},
		stack: "shop",
	},
	{
		name: "sops-sources",
		files: map[string]string{
			"compose.yml": `
services:
  db:
    image: example/db:1
    secrets: [db_password, tls_key]
  web:
    image: example/web:1
    secrets: [db_password, api_key]
secrets:
  db_password:
    file: {{sops}}/app.enc.yaml
    x-sops: {key: db.password}
  api_key:
    file: {{sops}}/app.enc.json
    x-sops:
      key: [api_key]
  tls_key:
    file: {{sops}}/tls.key.enc
    x-sops: {format: binary}
`,
		},
		stack: "shop",
	},
	{
		name: "names-and-externals",
		files: map[string]string{
			"compose.yml": `
name: fromfile
services:
  web:
    image: example/web:1
    secrets: [renamed, managed_elsewhere]
    configs:
      - source: nginx_conf
        target: /etc/nginx/nginx.conf
secrets:
  renamed:
    name: shared-db-password
    file: {{sops}}/app.enc.yaml
    x-sops: {key: db.password}
  managed_elsewhere:
    external: true
configs:
  nginx_conf:
    external: true
    name: nginx-v3
`,
		},
	},
	{
		name: "override-and-interpolation",
		files: map[string]string{
			"base.yml": `
services:
  web:
    image: example/web:${TAG:?set TAG in .env}
    environment:
      MODE: ${MODE:-dev}
    secrets: [api_key]
    deploy:
      replicas: 1
secrets:
  api_key:
    file: {{sops}}/app.enc.env
    x-sops: {key: API_KEY}
`,
			"prod.yml": `
services:
  web:
    deploy:
      replicas: 3
      endpoint_mode: dnsrr
      resources:
        limits: {cpus: "0.25", memory: 64M}
    ports:
      - target: 80
        published: 8080
        mode: host
secrets:
  api_key:
    file: {{sops}}/app.enc.yaml
    x-sops: {key: api_key}
`,
			".env": "TAG=2.1\nMODE=prod\n",
		},
		args:  []string{"base.yml", "prod.yml"},
		stack: "shop",
	},
}

func TestRenderGolden(t *testing.T) {
	withTestKey(t)
	for _, tc := range renderCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := scenario(t, tc.files)
			opts := compose.Options{WorkDir: dir, Stack: tc.stack, Env: append([]string{}, tc.env...)}
			for _, f := range tc.args {
				opts.Files = append(opts.Files, filepath.Join(dir, f))
			}
			d, err := Prepare(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			out, err := d.Project.Render()
			if err != nil {
				t.Fatal(err)
			}
			out = bytes.ReplaceAll(out, []byte(dir), []byte("$DIR"))
			for _, c := range canaries {
				if bytes.Contains(out, []byte(c)) {
					t.Errorf("rendered output holds the canary %s", c)
				}
			}

			golden := filepath.Join(testdataDir(t), "render", tc.name+".yml")
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./rotate -update writes it)", err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("render differs from %s (go test ./rotate -update rewrites it):\n%s", golden, out)
			}

			// Render is deterministic.
			again, err := Prepare(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			out2, _ := again.Project.Render()
			if !bytes.Equal(bytes.ReplaceAll(out2, []byte(dir), []byte("$DIR")), out) {
				t.Error("two renders of the same input differ")
			}

			// The output is itself valid input, for stackctl and for docker.
			back := filepath.Join(t.TempDir(), "rendered.yml")
			if err := os.WriteFile(back, want, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := compose.Load(context.Background(), compose.Options{Files: []string{back}, Stack: "reloaded"}); err != nil {
				t.Errorf("rendered output does not load back: %v", err)
			}
			dockerStackConfigAccepts(t, want)
		})
	}
}

// dockerStackConfigAccepts runs `docker stack config -c -` on rendered
// output. The docker CLI needs no engine for it; CI must have it.
func dockerStackConfigAccepts(t *testing.T, rendered []byte) {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the docker CLI is required in CI")
		}
		t.Log("docker CLI not installed: skipping docker stack config")
		return
	}
	cmd := exec.Command("docker", "stack", "config", "-c", "-")
	cmd.Stdin = bytes.NewReader(rendered)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("docker stack config rejects the output: %v\n%s", err, out)
	}
}

func TestPrepareErrors(t *testing.T) {
	withTestKey(t)
	long := strings.Repeat("x", 52)
	tests := []struct {
		name     string
		compose  string
		extra    map[string]string
		kind     error // a sopsbridge kind, or nil
		mentions []string
	}{
		{"malformed yaml", "services:\n  web:\n    image: [unclosed\n", nil, nil, []string{"compose.yml"}},
		{"undefined secret", "services:\n  web:\n    image: x\n    secrets: [nope]\n", nil, nil, []string{"nope", "undefined secret"}},
		{"missing file", "services:\n  web:\n    image: x\n    secrets: [s]\nsecrets:\n  s:\n    file: ./missing.txt\n", nil, sopsbridge.ErrInvalid, []string{"secret s", "missing.txt"}},
		{"required variable", "services:\n  web:\n    image: x:${TAG:?set TAG to the image tag}\n", nil, nil, []string{"set TAG to the image tag"}},
		{"unset environment source", "services:\n  web:\n    image: x\n    secrets: [s]\nsecrets:\n  s:\n    environment: NOT_SET_ANYWHERE\n", nil, nil, []string{"secrets.s", "NOT_SET_ANYWHERE"}},
		{"wrong key", "services:\n  web:\n    image: x\n    secrets: [s]\nsecrets:\n  s:\n    file: {{sops}}/foreign.enc.yaml\n    x-sops: {key: password}\n", nil, sopsbridge.ErrNoKey, []string{"secret s", "foreign.enc.yaml", "password"}},
		{"tampered", "services:\n  web:\n    image: x\n    secrets: [s]\nsecrets:\n  s:\n    file: {{sops}}/tampered.enc.yaml\n    x-sops: {key: db.password}\n", nil, sopsbridge.ErrTampered, []string{"secret s", "tampered.enc.yaml"}},
		{"key not found", "services:\n  web:\n    image: x\n    secrets: [s]\nsecrets:\n  s:\n    file: {{sops}}/app.enc.yaml\n    x-sops: {key: db.nope}\n", nil, sopsbridge.ErrKeyNotFound, []string{"secret s", "db.nope"}},
		{"x-sops on a plain file", "services:\n  web:\n    image: x\n    secrets: [s]\nsecrets:\n  s:\n    file: ./p.txt\n    x-sops: {key: a}\n", map[string]string{"p.txt": "CANARY-plain-file-e55d"}, sopsbridge.ErrNotEncrypted, []string{"secret s", "p.txt"}},
		{"x-sops on an environment source", "services:\n  web:\n    image: x\n    secrets: [s]\nsecrets:\n  s:\n    environment: HOME\n    x-sops: {key: a}\n", nil, nil, []string{"secrets.s.x-sops", "file:"}},
		{"bad x-sops field", "services:\n  web:\n    image: x\n    secrets: [s]\nsecrets:\n  s:\n    file: {{sops}}/app.enc.yaml\n    x-sops: {path: a}\n", nil, nil, []string{"secrets.s.x-sops", "unknown field"}},
		{"name too long", "services:\n  web:\n    image: x\n    secrets: [s]\nsecrets:\n  s:\n    name: " + long + "\n    file: {{sops}}/app.enc.yaml\n    x-sops: {key: api_key}\n", nil, nil, []string{"secrets.s", "52 characters", "at most 51"}},
		{"invalid name", "services:\n  web:\n    image: x\n    secrets: [s]\nsecrets:\n  s:\n    name: -bad\n    file: {{sops}}/app.enc.yaml\n    x-sops: {key: api_key}\n", nil, nil, []string{"secrets.s", "not a valid swarm name"}},
		{"empty value", "services:\n  web:\n    image: x\n    secrets: [s]\nsecrets:\n  s:\n    file: ./empty.txt\n", map[string]string{"empty.txt": ""}, sopsbridge.ErrInvalid, []string{"secret s", "0 bytes"}},
		// What docker's converter rejects is found here, before any engine is read.
		{"option docker rejects", "services:\n  a:\n    image: x\n    dns_opt: [ndots:1]\n", nil, nil, []string{"compose.yml", "services.a.dns_opt", "unknown key"}},
		{"build without image", "services:\n  a:\n    build: .\n", nil, nil, []string{"services.a", "no image"}},
		{"unknown restart policy", "services:\n  web:\n    image: x\n    restart: sometimes\n", nil, nil, []string{"compose.yml", "service web", "invalid restart policy", "sometimes"}},
		{"healthcheck test and disable", "services:\n  web:\n    image: x\n    healthcheck: {disable: true, test: [CMD, \"true\"]}\n", nil, nil, []string{"compose.yml", "service web", "test and disable"}},
		{"replicas with global mode", "services:\n  web:\n    image: x\n    deploy: {mode: global, replicas: 2}\n", nil, nil, []string{"compose.yml", "services.web.deploy.replicas", "replicas can only be used with replicated"}},
		{"secret target conflict", "services:\n  web:\n    image: x\n    secrets: [{source: s, target: creds}, {source: t, target: creds}]\nsecrets:\n  s:\n    file: {{sops}}/app.enc.yaml\n    x-sops: {key: db.password}\n  t:\n    file: {{sops}}/app.enc.yaml\n    x-sops: {key: api_key}\n", nil, nil, []string{"compose.yml", "services.web.secrets", "s and t are both mounted at creds"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"compose.yml": tt.compose}
			for k, v := range tt.extra {
				files[k] = v
			}
			dir := scenario(t, files)
			_, err := Prepare(context.Background(), compose.Options{Files: []string{filepath.Join(dir, "compose.yml")}, Stack: "shop", Env: []string{"HOME=/root"}})
			if err == nil {
				t.Fatal("no error")
			}
			if tt.kind != nil && !errors.Is(err, tt.kind) {
				t.Errorf("err = %v, want kind %v", err, tt.kind)
			}
			for _, m := range tt.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			for _, c := range canaries {
				if strings.Contains(err.Error(), c) {
					t.Errorf("error quotes the canary %s", c)
				}
			}
		})
	}
}
