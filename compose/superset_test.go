package compose

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSuperset: what stackctl reads beyond docker's format, each as the
// compose specification defines it, with the warning that says so.
func TestSuperset(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string // compose.yml, then override.yml if present
		env      []string
		profiles []string
		services []string // deployed, in order
		warn     []string // substrings of the warnings
		check    func(t *testing.T, p *Project)
	}{
		{"inactive profile: not deployed, named",
			map[string]string{"compose.yml": "services:\n  web: {image: x}\n  debug: {image: x, profiles: [debug, tools]}\n"},
			nil, nil, []string{"web"}, []string{"services.debug: not deployed", "--profile debug"}, nil},
		{"--profile activates",
			map[string]string{"compose.yml": "services:\n  web: {image: x}\n  debug: {image: x, profiles: [debug]}\n"},
			nil, []string{"debug"}, []string{"debug", "web"}, nil, nil},
		{"COMPOSE_PROFILES activates, from .env too",
			map[string]string{"compose.yml": "services:\n  web: {image: x}\n  debug: {image: x, profiles: [tools]}\n", ".env": "COMPOSE_PROFILES=a,tools\n"},
			[]string{}, nil, []string{"debug", "web"}, []string{"interpolation read COMPOSE_PROFILES from"}, nil},
		{"* activates every profile",
			map[string]string{"compose.yml": "services:\n  debug: {image: x, profiles: [tools]}\n"},
			[]string{"COMPOSE_PROFILES=*"}, nil, []string{"debug"}, nil, nil},
		{"long depends_on: read as the list, warned",
			map[string]string{"compose.yml": "services:\n  db: {image: x}\n  web:\n    image: x\n    depends_on:\n      db: {condition: service_healthy}\n"},
			nil, nil, []string{"db", "web"}, []string{"services.web.depends_on: conditions ignored"}, nil},
		{"top-level name: names the stack",
			map[string]string{"compose.yml": "name: shop\nservices:\n  web: {image: x}\n"},
			nil, nil, []string{"web"}, nil,
			func(t *testing.T, p *Project) {
				if p.Stack != "shop" {
					t.Errorf("stack = %q, want shop", p.Stack)
				}
			}},
		{"different versions: read with the newest",
			map[string]string{"compose.yml": "version: '3.1'\nservices:\n  web: {image: x}\n", "override.yml": "services:\n  web: {image: y, init: true}\n"},
			nil, nil, []string{"web"}, nil,
			func(t *testing.T, p *Project) {
				if got := service(t, p, "web").Image; got != "y" {
					t.Errorf("image = %q, want the override's", got)
				}
			}},
		{"x-sops on a 3.1 file, whose schema has no x- keys on secrets",
			map[string]string{"compose.yml": "version: '3.1'\nservices:\n  web: {image: x, secrets: [pw]}\nsecrets:\n  pw: {file: ./pw.enc.yaml, x-sops: {key: db.pw}}\n"},
			nil, nil, []string{"web"}, nil,
			func(t *testing.T, p *Project) {
				srcs, _, err := p.Sources(false)
				if err != nil || len(srcs) != 1 || srcs[0].SOPS == nil || strings.Join(srcs[0].SOPS.Path, ".") != "db.pw" {
					t.Errorf("sources = %+v, %v", srcs, err)
				}
			}},
		{"environment: and content: sources, interpolated",
			map[string]string{"compose.yml": "services:\n  web: {image: x, secrets: [a], configs: [c]}\nsecrets:\n  a: {environment: \"${VAR_NAME:-PW}\"}\nconfigs:\n  c: {content: \"level=${LEVEL}\"}\n"},
			[]string{"PW=secret", "LEVEL=info"}, nil, []string{"web"}, nil,
			func(t *testing.T, p *Project) {
				srcs, _, err := p.Sources(false)
				if err != nil || len(srcs) != 2 {
					t.Fatalf("sources = %+v, %v", srcs, err)
				}
				if srcs[0].Origin != FromEnvironment || string(srcs[0].Inline) != "secret" || srcs[0].Variable != "PW" {
					t.Errorf("secret a = %+v", srcs[0])
				}
				if srcs[1].Origin != FromContent || string(srcs[1].Inline) != "level=info" {
					t.Errorf("config c = %+v", srcs[1])
				}
			}},
		{"an override replaces a secret whole, as docker merges",
			map[string]string{"compose.yml": "services:\n  web: {image: x, secrets: [a]}\nsecrets:\n  a: {environment: PW}\n", "override.yml": "secrets:\n  a: {file: ./a.txt}\n"},
			[]string{"PW=secret"}, nil, []string{"web"}, nil,
			func(t *testing.T, p *Project) {
				srcs, _, err := p.Sources(false)
				if err != nil || len(srcs) != 1 || srcs[0].Origin != FromFile || filepath.Base(srcs[0].File) != "a.txt" {
					t.Errorf("sources = %+v, %v", srcs, err)
				}
			}},
		{"template_driver and secret drivers are kept",
			map[string]string{"compose.yml": "services:\n  web: {image: x, secrets: [d], configs: [t]}\nsecrets:\n  d: {driver: vault, driver_opts: {path: a}}\nconfigs:\n  t: {file: ./t.tmpl, template_driver: golang}\n"},
			nil, nil, []string{"web"}, nil,
			func(t *testing.T, p *Project) {
				srcs, _, err := p.Sources(false)
				if err != nil || len(srcs) != 2 {
					t.Fatalf("sources = %+v, %v", srcs, err)
				}
				if s := srcs[0]; s.Origin != FromDriver || s.Driver != "vault" || s.DriverOpts["path"] != "a" || s.Name != "st_d" {
					t.Errorf("secret d = %+v", s)
				}
				if s := srcs[1]; s.TemplateDriver != "golang" {
					t.Errorf("config t = %+v", s)
				}
			}},
		{"swarm-ignored keys: one warning naming each",
			map[string]string{"compose.yml": "services:\n  web: {image: x, links: [db], container_name: w, privileged: true}\n", "override.yml": "services:\n  web: {links: [db]}\n"},
			nil, nil, []string{"web"}, []string{"services.web.container_name, services.web.links, services.web.privileged"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			files := []string{filepath.Join(dir, "compose.yml")}
			if _, ok := tt.files["override.yml"]; ok {
				files = append(files, filepath.Join(dir, "override.yml"))
			}
			env := tt.env
			if env == nil {
				env = []string{}
			}
			stack := "st"
			if tt.check != nil && strings.Contains(tt.files["compose.yml"], "name: shop") {
				stack = ""
			}
			p, err := Load(context.Background(), Options{Files: files, Env: env, Profiles: tt.profiles, Stack: stack})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, svc := range p.Config.Services {
				names = append(names, svc.Name)
			}
			if !slices.Equal(names, tt.services) {
				t.Errorf("services = %v, want %v", names, tt.services)
			}
			all := strings.Join(p.Warnings, "\n")
			for _, w := range tt.warn {
				if strings.Count(all, w) != 1 {
					t.Errorf("warnings name %q %d times, want once:\n%s", w, strings.Count(all, w), all)
				}
			}
			for _, w := range p.Warnings {
				if !strings.HasPrefix(w, files[0]) {
					t.Errorf("warning does not name the file: %s", w)
				}
			}
			if tt.check != nil {
				tt.check(t, p)
			}
		})
	}
}

// TestErrorsQuoteNoValue: a value from the environment or an env file never
// reaches an error, whatever upstream parser failed on it.
func TestErrorsQuoteNoValue(t *testing.T) {
	const canary = "CANARY-env-err-77f1"
	tests := []struct {
		name  string
		files map[string]string
		env   []string
		want  string
	}{
		{"unclosed quote in .env", map[string]string{"compose.yml": "services:\n  web: {image: x}\n", ".env": "A=1\nPW=\"" + canary + "\nB=2\n"}, []string{}, ".env"},
		{"interpolated number", map[string]string{"compose.yml": "services:\n  web: {image: x, deploy: {replicas: \"${PW}\"}}\n"}, []string{"PW=" + canary}, "services.web.deploy.replicas"},
		{"bad interpolation in a secret's content", map[string]string{"compose.yml": "services:\n  web: {image: x, secrets: [pw]}\nsecrets:\n  pw: {content: \"" + canary + "${oops\"}\n"}, []string{}, "secrets.pw.content"},
		{"interpolated boolean", map[string]string{"compose.yml": "services:\n  web: {image: x, read_only: \"${PW}\"}\n"}, []string{"PW=" + canary}, "services.web.read_only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			_, err := Load(context.Background(), Options{Files: []string{filepath.Join(dir, "compose.yml")}, Env: tt.env, Stack: "st"})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %s", err, tt.want)
			}
			if strings.Contains(err.Error(), canary) {
				t.Fatalf("the error quotes the value: %v", err)
			}
		})
	}
}

// TestContentWithUnsetVariable: a secret's content that refers to an unset
// variable is warned about without quoting any of it.
func TestContentWithUnsetVariable(t *testing.T) {
	dir := writeFiles(t, map[string]string{"compose.yml": "services:\n  web: {image: x, secrets: [pw]}\nsecrets:\n  pw: {content: \"p4$sword!${SET}${DEF:-d}\"}\n"})
	p, err := Load(context.Background(), Options{Files: []string{filepath.Join(dir, "compose.yml")}, Env: []string{"SET=1"}, Stack: "st"})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(p.Warnings, "\n")
	if strings.Count(all, "secrets.pw.content: a variable it refers to is not set") != 1 || strings.Contains(all, "sword") {
		t.Errorf("warnings: %s", all)
	}
}

// TestSopsVariablesNotInterpolated: sops' own variables (a private key) never
// reach a service, whatever the compose file asks for.
func TestSopsVariablesNotInterpolated(t *testing.T) {
	const key = "AGE-SECRET-KEY-CANARY"
	dir := writeFiles(t, map[string]string{"compose.yml": "services:\n  web:\n    image: x\n    environment: [SOPS_AGE_KEY]\n    labels: {k: \"${SOPS_AGE_KEY:-none}\"}\n"})
	p, err := Load(context.Background(), Options{Files: []string{filepath.Join(dir, "compose.yml")}, Env: []string{"SOPS_AGE_KEY=" + key}, Stack: "st"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Render()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), key) {
		t.Fatalf("the key reached the stack:\n%s", out)
	}
}
