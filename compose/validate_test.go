package compose

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files under testdata/")

// svc is a service that other cases extend with one more key.
const validateSvc = "services:\n  web:\n    image: x\n"

var validateCases = []struct {
	name  string
	files map[string]string // compose.yml, and override.yml if present
	env   []string
	// want are substrings of the error; none means the files are valid.
	want []string
}{
	// deploy.placement.constraints, as swarm parses them.
	{"constraint ok", map[string]string{"compose.yml": validateSvc + "    deploy: {placement: {constraints: [node.role == manager, 'node.labels.zone != edge', engine.labels.os==linux, node.hostname==a1, node.platform.arch == x86_64, node.ip == 10.0.0.0/8, 'NODE.ROLE == Worker']}}\n"}, nil, nil},
	{"constraint without operator", map[string]string{"compose.yml": validateSvc + "    deploy: {placement: {constraints: [node.role = = manager]}}\n"}, nil,
		[]string{"compose.yml: services.web.deploy.placement.constraints.0", `"node.role = = manager"`, "no == or != operator", "node.role == manager"}},
	{"constraint single =", map[string]string{"compose.yml": validateSvc + "    deploy: {placement: {constraints: [node.role==manager, node.role=manager]}}\n"}, nil,
		[]string{"placement.constraints.1", "no == or != operator"}},
	{"constraint bad key", map[string]string{"compose.yml": validateSvc + "    deploy: {placement: {constraints: [node role == manager]}}\n"}, nil,
		[]string{"placement.constraints.0", `invalid key "node role"`}},
	{"constraint empty value", map[string]string{"compose.yml": validateSvc + "    deploy: {placement: {constraints: [node.role ==]}}\n"}, nil,
		[]string{"placement.constraints.0", `invalid value ""`}},
	{"constraint two operators", map[string]string{"compose.yml": validateSvc + "    deploy: {placement: {constraints: [node.role == manager != worker]}}\n"}, nil,
		[]string{"placement.constraints.0", `invalid value "manager != worker"`}},
	{"constraint unknown key", map[string]string{"compose.yml": validateSvc + "    deploy: {placement: {constraints: [node.label.zone == a]}}\n"}, nil,
		[]string{"placement.constraints.0", `unknown key "node.label.zone"`, "node.labels.NAME"}},
	{"constraint label without name", map[string]string{"compose.yml": validateSvc + "    deploy: {placement: {constraints: [node.labels. == a]}}\n"}, nil,
		[]string{"placement.constraints.0", `unknown key "node.labels."`}},
	{"constraint unknown role", map[string]string{"compose.yml": validateSvc + "    deploy: {placement: {constraints: [node.role == leader]}}\n"}, nil,
		[]string{"placement.constraints.0", "manager or worker"}},
	{"constraint bad ip", map[string]string{"compose.yml": validateSvc + "    deploy: {placement: {constraints: [node.ip != 10.0.0.300]}}\n"}, nil,
		[]string{"placement.constraints.0", "IP address or a CIDR subnet"}},

	// deploy.restart_policy.condition, deploy.endpoint_mode, deploy.mode.
	{"restart conditions ok", map[string]string{"compose.yml": "services:\n  a: {image: x, deploy: {restart_policy: {condition: none}}}\n  b: {image: x, deploy: {restart_policy: {condition: on-failure}}}\n  c: {image: x, deploy: {restart_policy: {condition: any}}}\n  d: {image: x, deploy: {restart_policy: {max_attempts: 3}}}\n"}, nil, nil},
	{"restart condition unknown", map[string]string{"compose.yml": validateSvc + "    deploy: {restart_policy: {condition: sometimes}}\n"}, nil,
		[]string{"compose.yml: services.web.deploy.restart_policy.condition", `"sometimes"`, "none, on-failure or any"}},
	{"restart condition is exact", map[string]string{"compose.yml": validateSvc + "    deploy: {restart_policy: {condition: Any}}\n"}, nil,
		[]string{"restart_policy.condition", `"Any"`}},
	{"endpoint modes ok", map[string]string{"compose.yml": "services:\n  a: {image: x, deploy: {endpoint_mode: vip}}\n  b: {image: x, deploy: {endpoint_mode: DNSRR}}\n"}, nil, nil},
	{"endpoint mode unknown", map[string]string{"compose.yml": validateSvc + "    deploy: {endpoint_mode: anycast}\n"}, nil,
		[]string{"compose.yml: services.web.deploy.endpoint_mode", `"anycast"`, "vip or dnsrr"}},
	{"replicas with global", map[string]string{"compose.yml": validateSvc + "    deploy: {mode: global, replicas: 2}\n"}, nil,
		[]string{"compose.yml: services.web.deploy.replicas", "replicas can only be used with replicated", "set mode: replicated"}},
	{"replicas with global-job", map[string]string{"compose.yml": validateSvc + "    deploy: {mode: global-job, replicas: 1}\n"}, nil,
		[]string{"services.web.deploy.replicas", "not global-job"}},
	{"replicas with replicated-job", map[string]string{"compose.yml": validateSvc + "    deploy: {mode: replicated-job, replicas: 2}\n"}, nil, nil},
	{"unknown mode", map[string]string{"compose.yml": validateSvc + "    deploy: {mode: everywhere}\n"}, nil,
		[]string{"services.web.deploy.mode", `"everywhere"`}},

	// ports
	{"ports ok", map[string]string{"compose.yml": "services:\n  a: {image: x, ports: ['8080:80', '8081:80', '53:53/udp', '80']}\n  b: {image: x, ports: ['53:53/tcp', '80', {target: 81, published: 9000, mode: host}]}\n  c: {image: x, ports: [{target: 81, published: 9000, mode: host}]}\n"}, nil, nil},
	{"port in two services", map[string]string{"compose.yml": "services:\n  a: {image: x, ports: ['18431:80']}\n  b: {image: x, ports: ['18431:80']}\n"}, nil,
		[]string{"compose.yml: services.b.ports", "port 18431/tcp", "already published by services.a"}},
	{"port twice in one service", map[string]string{"compose.yml": "services:\n  a: {image: x, ports: ['18431:80', '18431:81']}\n"}, nil,
		[]string{"services.a.ports", "port 18431/tcp is published twice"}},
	{"port in a range", map[string]string{"compose.yml": "services:\n  a: {image: x, ports: ['8000-8010:80']}\n  b: {image: x, ports: ['8005:80']}\n"}, nil,
		[]string{"services.b.ports", "port 8005/tcp", "services.a"}},
	{"udp port in two services", map[string]string{"compose.yml": "services:\n  a: {image: x, ports: ['53:53/udp']}\n  b: {image: x, ports: [{target: 53, published: 53, protocol: udp}]}\n"}, nil,
		[]string{"services.b.ports", "port 53/udp"}},

	// secret and config targets
	{"targets ok", map[string]string{"compose.yml": validateSvc + "    secrets: [a, {source: b, target: bb}, {source: a, target: a2}]\n    configs: [c, {source: d, target: /etc/d}]\nsecrets:\n  a: {file: ./a}\n  b: {file: ./a}\nconfigs:\n  c: {file: ./a}\n  d: {file: ./a}\n"}, nil, nil},
	{"same secret target", map[string]string{"compose.yml": validateSvc + "    secrets: [{source: a, target: creds}, {source: b, target: creds}]\nsecrets:\n  a: {file: ./a}\n  b: {file: ./a}\n"}, nil,
		[]string{"compose.yml: services.web.secrets", "a and b are both mounted at creds", "give each its own target"}},
	{"same secret target, default and explicit", map[string]string{"compose.yml": validateSvc + "    secrets: [a, {source: b, target: /run/secrets/a}]\nsecrets:\n  a: {file: ./a}\n  b: {file: ./a}\n"}, nil,
		[]string{"services.web.secrets", "a and b are both mounted at a"}},
	{"same secret target as a source name", map[string]string{"compose.yml": validateSvc + "    secrets: [a, {source: b, target: a}]\nsecrets:\n  a: {file: ./a}\n  b: {file: ./a}\n"}, nil,
		[]string{"services.web.secrets", "a and b are both mounted at a"}},
	{"same config target", map[string]string{"compose.yml": validateSvc + "    configs: [{source: c, target: /etc/app.conf}, {source: d, target: /etc/app.conf}]\nconfigs:\n  c: {file: ./a}\n  d: {file: ./a}\n"}, nil,
		[]string{"services.web.configs", "c and d are both mounted at /etc/app.conf"}},
	{"same target after interpolation", map[string]string{"compose.yml": validateSvc + "    secrets: [{source: a, target: '${T}'}, {source: b, target: creds}]\nsecrets:\n  a: {file: ./a}\n  b: {file: ./a}\n"}, []string{"T=creds"},
		[]string{"services.web.secrets", "a and b are both mounted at creds"}},
	{"same secret twice", map[string]string{"compose.yml": validateSvc + "    secrets: [a, a]\nsecrets:\n  a: {file: ./a}\n"}, nil, nil},
	{"override replaces a target", map[string]string{
		"compose.yml":  validateSvc + "    secrets: [{source: a, target: creds}]\nsecrets:\n  a: {file: ./a}\n  b: {file: ./a}\n",
		"override.yml": "services:\n  web:\n    secrets: [{source: b, target: creds}]\n"}, nil,
		// docker merges service secrets by source: a and b both stay.
		[]string{"services.web.secrets", "a and b are both mounted at creds"}},
	{"conflict in the override file", map[string]string{
		"compose.yml":  validateSvc,
		"override.yml": "services:\n  web:\n    secrets: [{source: a, target: creds}, {source: b, target: creds}]\nsecrets:\n  a: {file: ./a}\n  b: {file: ./a}\n"}, nil,
		[]string{"override.yml: services.web.secrets", "a and b are both mounted at creds"}},
}

// TestValidate loads each case; the exact messages are in
// testdata/validate/errors.golden (go test -run TestValidate -update rewrites it).
func TestValidate(t *testing.T) {
	var golden []string
	for _, tt := range validateCases {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			files := []string{filepath.Join(dir, "compose.yml")}
			if _, ok := tt.files["override.yml"]; ok {
				files = append(files, filepath.Join(dir, "override.yml"))
			}
			p, err := Load(context.Background(), Options{Files: files, Env: append([]string{}, tt.env...)})
			if err == nil {
				err = p.CheckDeployable()
			}
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("valid files rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one with %q", tt.want)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("message has more than one line: %q", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			golden = append(golden, tt.name+":\n  "+strings.ReplaceAll(msg, dir+string(filepath.Separator), "")+"\n")
		})
	}
	if t.Failed() {
		return
	}
	got := strings.Join(golden, "")
	path := filepath.Join("..", "testdata", "validate", "errors.golden")
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run TestValidate -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("messages differ from %s (go test -run TestValidate -update rewrites it):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestCheckConstraint(t *testing.T) {
	tests := []struct{ in, want string }{
		{"node.role==manager", ""},
		{"  node.role  ==  manager  ", ""},
		{"node.id != 2ivku8v2gvtg4", ""},
		{"node.platform.os == windows", ""},
		{"node.labels.security == high", ""},
		{"Engine.Labels.operatingsystem == ubuntu-14.04", ""},
		{"node.ip == 2001:db8::2", ""},
		{"node.hostname == web-(1|2)", ""},
		{"node.role", "no == or != operator"},
		{"node.role = manager", "no == or != operator"},
		{"node.role =! manager", "no == or != operator"},
		{"== manager", `invalid key ""`},
		{"x == manager", `invalid key "x"`},
		{"node.labels.zone == 'eu'", `invalid value "'eu'"`},
		{"node.labels.zone == a,b", `invalid value "a,b"`},
		{"node.name == a", `unknown key "node.name"`},
		{"node.role != boss", "manager or worker"},
		{"node.ip == me", "IP address or a CIDR subnet"},
	}
	for _, tt := range tests {
		err := checkConstraint(tt.in)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%q: %v", tt.in, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%q: err = %v, want %q", tt.in, err, tt.want)
		}
	}
}
