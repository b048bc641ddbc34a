package compose

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	composetypes "github.com/docker/cli/cli/compose/types"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "myproj")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoad(t *testing.T) {
	const svc = "services:\n  web:\n    image: app:${TAG:-latest}\n    secrets: [pw]\nsecrets:\n  pw:\n    file: ./pw.txt\n"
	tests := []struct {
		name      string
		files     map[string]string
		opts      func(dir string) Options
		stack     string
		image     string
		secretNm  string
		composeNm int
	}{
		{"default file name, stack from folder",
			map[string]string{"compose.yaml": svc},
			func(dir string) Options { return Options{WorkDir: dir} },
			"myproj", "app:latest", "myproj_pw", 1},
		{"docker-compose.yml and its override",
			map[string]string{"docker-compose.yml": svc, "docker-compose.override.yml": "services:\n  web:\n    image: app:override\n"},
			func(dir string) Options { return Options{WorkDir: dir} },
			"myproj", "app:override", "myproj_pw", 2},
		{"explicit stack names objects",
			map[string]string{"c.yml": svc},
			func(dir string) Options { return Options{Files: []string{filepath.Join(dir, "c.yml")}, Stack: "shop"} },
			"shop", "app:latest", "shop_pw", 1},
		{"name: in the file",
			map[string]string{"c.yml": "name: fromfile\n" + svc},
			func(dir string) Options { return Options{Files: []string{filepath.Join(dir, "c.yml")}} },
			"fromfile", "app:latest", "fromfile_pw", 1},
		{"COMPOSE_PROJECT_NAME",
			map[string]string{"c.yml": svc},
			func(dir string) Options {
				return Options{Files: []string{filepath.Join(dir, "c.yml")}, Env: []string{"COMPOSE_PROJECT_NAME=envname"}}
			},
			"envname", "app:latest", "envname_pw", 1},
		{"explicit secret name",
			map[string]string{"c.yml": strings.Replace(svc, "file: ./pw.txt", "name: my-pw\n    file: ./pw.txt", 1)},
			func(dir string) Options { return Options{Files: []string{filepath.Join(dir, "c.yml")}, Stack: "shop"} },
			"shop", "app:latest", "my-pw", 1},
		{".env interpolates, the environment wins",
			map[string]string{"c.yml": svc, ".env": "TAG=fromdotenv\n"},
			func(dir string) Options {
				return Options{Files: []string{filepath.Join(dir, "c.yml")}, Env: []string{}}
			},
			"myproj", "app:fromdotenv", "myproj_pw", 1},
		{"environment over .env",
			map[string]string{"c.yml": svc, ".env": "TAG=fromdotenv\n"},
			func(dir string) Options {
				return Options{Files: []string{filepath.Join(dir, "c.yml")}, Env: []string{"TAG=fromenv"}}
			},
			"myproj", "app:fromenv", "myproj_pw", 1},
		{"--env-file replaces .env",
			map[string]string{"c.yml": svc, ".env": "TAG=fromdotenv\n", "prod.env": "TAG=prod\n"},
			func(dir string) Options {
				return Options{Files: []string{filepath.Join(dir, "c.yml")}, EnvFiles: []string{filepath.Join(dir, "prod.env")}, Env: []string{}}
			},
			"myproj", "app:prod", "myproj_pw", 1},
		{"stdin",
			map[string]string{},
			func(dir string) Options {
				return Options{Files: []string{"-"}, WorkDir: dir, Stack: "fromstdin", Stdin: strings.NewReader(svc)}
			},
			"fromstdin", "app:latest", "fromstdin_pw", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			opts := tt.opts(dir)
			if opts.Env == nil {
				opts.Env = []string{}
			}
			p, err := Load(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if p.Stack != tt.stack {
				t.Errorf("stack = %q, want %q", p.Stack, tt.stack)
			}
			if got := service(t, p, "web").Image; got != tt.image {
				t.Errorf("image = %q, want %q", got, tt.image)
			}
			if got := p.swarmName("pw", p.Config.Secrets["pw"].Name); got != tt.secretNm {
				t.Errorf("secret name = %q, want %q", got, tt.secretNm)
			}
			if len(p.Files) != tt.composeNm {
				t.Errorf("files = %v, want %d", p.Files, tt.composeNm)
			}
			if got := p.Config.Secrets["pw"].File; got != "" && !filepath.IsAbs(got) {
				t.Errorf("secret file %q is not absolute", got)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no compose file", Options{WorkDir: "/"}, "no compose file found"},
		{"missing file", Options{Files: []string{"/nonexistent/compose.yml"}}, "read compose file /nonexistent/compose.yml"},
		{"stdin twice", Options{Files: []string{"-", "-"}, Stdin: strings.NewReader("")}, "stdin can be read only once"},
		{"bad stack name", Options{Files: []string{"-"}, Stdin: strings.NewReader("services: {web: {image: x}}"), Stack: "Bad Name"}, "invalid stack name"},
		// docker's loader panics on a YAML null where it expects a name.
		{"null environment key", Options{Files: []string{"-"}, Stdin: strings.NewReader("services: {web: {image: x, environment: {NULL: null}}}"), Stack: "s"}, "docker's compose loader cannot read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Env = []string{}
			_, err := Load(context.Background(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseXSops(t *testing.T) {
	tests := []struct {
		name    string
		in      any
		want    *SOPSRef
		wantErr string
	}{
		{"absent", nil, nil, ""},
		{"true", true, &SOPSRef{}, ""},
		{"dotted key", map[string]any{"key": "db.password"}, &SOPSRef{Path: []string{"db", "password"}}, ""},
		{"list key", map[string]any{"key": []any{"db.x", 0}}, &SOPSRef{Path: []string{"db.x", "0"}}, ""},
		{"format", map[string]any{"format": "binary"}, &SOPSRef{Format: "binary"}, ""},
		{"bad format", map[string]any{"format": "toml"}, nil, "format must be one of"},
		{"unknown field", map[string]any{"path": "a"}, nil, "unknown field"},
		{"empty segment", map[string]any{"key": "db..password"}, nil, "empty path segment"},
		{"not a mapping", "db.password", nil, "must be a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseXSops(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestUseVersionsKeepsTargets(t *testing.T) {
	p, err := Load(context.Background(), Options{Files: []string{"-"}, Stack: "s", Env: []string{"V=1"}, Stdin: strings.NewReader(`
services:
  web:
    image: x
    secrets: [a, {source: b, target: /etc/b}, ext]
    configs: [c]
secrets:
  a: {environment: V}
  b: {environment: V}
  ext: {external: true}
configs:
  c: {content: hi}
`)})
	if err != nil {
		t.Fatal(err)
	}
	p.UseVersions(map[Kind]map[string]string{Secret: {"a": "s_a.1", "b": "s_b.2"}, Config: {"c": "s_c.3"}})
	web := service(t, p, "web")
	targets := []string{web.Secrets[0].Target, web.Secrets[1].Target, web.Secrets[2].Target, web.Configs[0].Target}
	if want := []string{"a", "/etc/b", "", "c"}; !reflect.DeepEqual(targets, want) {
		t.Errorf("targets = %q, want %q", targets, want)
	}
	if s := p.Config.Secrets["a"]; s.Name != "s_a.1" || !s.External.External || s.File != "" {
		t.Errorf("secret a = %+v", s)
	}
	if s := p.Config.Secrets["ext"]; s.Name != "ext" {
		t.Errorf("external secret changed: %+v", s)
	}
}

// service finds a service of the loaded stack by name.
func service(t *testing.T, p *Project, name string) composetypes.ServiceConfig {
	t.Helper()
	for _, svc := range p.Config.Services {
		if svc.Name == name {
			return svc
		}
	}
	t.Fatalf("no service %s", name)
	return composetypes.ServiceConfig{}
}

// TestSchemaErrorsNeverQuoteValues: docker's schema package (v29) repeats
// the offending value in some messages ("'VALUE' is not valid duration"),
// and the value may come from a variable that holds a secret. stackctl's
// message names the key and what to write, never the value.
func TestSchemaErrorsNeverQuoteValues(t *testing.T) {
	const canary = "CANARY-schema-9e4b"
	tests := []struct{ name, service, want string }{
		{"duration format", "healthcheck: {interval: \"${V}\"}", "services.web.healthcheck.interval: not a valid duration"},
		{"ports format", "ports: [\"${V}\"]", "services.web.ports.0: not a valid port"},
		{"grace period", "stop_grace_period: \"${V}\"", "services.web.stop_grace_period: not a valid duration"},
		{"enum", "deploy: {update_config: {order: \"${V}\"}}", "services.web.deploy.update_config.order must be one of 'start-first', 'stop-first'"},
		{"type", "deploy: {replicas: \"${V}\"}", "services.web.deploy.replicas: the interpolated value is not a whole number"},
		{"unknown keys", "foo: 1\n    bar: 2", "services.web.bar, services.web.foo: unknown keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yml := "services:\n  web:\n    image: x\n    " + tt.service + "\n"
			_, err := Load(context.Background(), Options{Files: []string{"-"}, Stdin: strings.NewReader(yml), Env: []string{"V=" + canary}, Stack: "s"})
			if err == nil {
				t.Fatal("loaded")
			}
			if strings.Contains(err.Error(), canary) {
				t.Errorf("the error quotes the value: %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
