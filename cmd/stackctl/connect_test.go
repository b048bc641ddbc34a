package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/cli/cli/context/docker"
	"github.com/docker/cli/cli/context/store"
)

// TestResolveEndpoint: the engine chosen from flags, environment,
// config.json and the context store, in the docker CLI's order.
func TestResolveEndpoint(t *testing.T) {
	cfg := t.TempDir()
	certs := t.TempDir()
	writeTestCerts(t, certs)
	saveContext(t, cfg, "alpha", "tcp://alpha:2375", nil)
	saveContext(t, cfg, "beta", "ssh://deploy@beta", nil)
	saveContext(t, cfg, "secure", "tcp://secure:2376", &store.EndpointTLSData{Files: map[string][]byte{
		"ca.pem": readFile(t, certs, "ca.pem"), "cert.pem": readFile(t, certs, "cert.pem"), "key.pem": readFile(t, certs, "key.pem"),
	}})
	withCurrent := t.TempDir()
	os.WriteFile(filepath.Join(withCurrent, "config.json"), []byte(`{"currentContext": "beta", "HttpHeaders": {"X-Meta": "m"}}`), 0o600)
	os.Symlink(filepath.Join(cfg, "contexts"), filepath.Join(withCurrent, "contexts"))
	broken := t.TempDir()
	os.WriteFile(filepath.Join(broken, "config.json"), []byte(`{"currentContext": `), 0o600)
	noCA := t.TempDir()

	const local = "unix:///var/run/docker.sock"
	tests := []struct {
		name       string
		flags      engineFlags
		env        map[string]string // DOCKER_CONFIG is cfg unless set here
		host       string
		tlsData    bool
		skipVerify bool
		headers    map[string]string
		err        string // in the error, when one is wanted
		usage      bool
	}{
		{name: "nothing: the local socket", host: local},
		{name: "DOCKER_HOST", env: map[string]string{"DOCKER_HOST": "tcp://h:1"}, host: "tcp://h:1"},
		{name: "DOCKER_HOST without scheme is tcp", env: map[string]string{"DOCKER_HOST": "h:1"}, host: "tcp://h:1"},
		{name: "--host", flags: engineFlags{host: "unix:///x.sock"}, host: "unix:///x.sock"},
		{name: "--host over DOCKER_CONTEXT", flags: engineFlags{host: "unix:///x.sock"}, env: map[string]string{"DOCKER_CONTEXT": "alpha"}, host: "unix:///x.sock"},
		{name: "--context", flags: engineFlags{contextName: "alpha"}, host: "tcp://alpha:2375"},
		{name: "--context over DOCKER_HOST", flags: engineFlags{contextName: "alpha"}, env: map[string]string{"DOCKER_HOST": "tcp://h:1"}, host: "tcp://alpha:2375"},
		{name: "--context default takes DOCKER_HOST", flags: engineFlags{contextName: "default"}, env: map[string]string{"DOCKER_HOST": "tcp://h:1"}, host: "tcp://h:1"},
		{name: "DOCKER_CONTEXT", env: map[string]string{"DOCKER_CONTEXT": "beta"}, host: "ssh://deploy@beta"},
		{name: "DOCKER_HOST over DOCKER_CONTEXT", env: map[string]string{"DOCKER_CONTEXT": "beta", "DOCKER_HOST": "tcp://h:1"}, host: "tcp://h:1"},
		{name: "currentContext, and HttpHeaders", env: map[string]string{"DOCKER_CONFIG": withCurrent}, host: "ssh://deploy@beta", headers: map[string]string{"X-Meta": "m"}},
		{name: "DOCKER_CONTEXT over currentContext", env: map[string]string{"DOCKER_CONFIG": withCurrent, "DOCKER_CONTEXT": "alpha"}, host: "tcp://alpha:2375", headers: map[string]string{"X-Meta": "m"}},
		{name: "--config over DOCKER_CONFIG", flags: engineFlags{configDir: withCurrent}, host: "ssh://deploy@beta", headers: map[string]string{"X-Meta": "m"}},
		{name: "context with TLS material", flags: engineFlags{contextName: "secure"}, host: "tcp://secure:2376", tlsData: true},
		{name: "DOCKER_TLS_VERIFY", env: map[string]string{"DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certs}, host: "tcp://h:2376", tlsData: true},
		{name: "TLS without a host: tcp://localhost:2376", env: map[string]string{"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certs}, host: "tcp://localhost:2376", tlsData: true},
		{name: "DOCKER_TLS: TLS, no verification", env: map[string]string{"DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS": "1", "DOCKER_CERT_PATH": certs}, host: "tcp://h:2376", tlsData: true, skipVerify: true},
		{name: "--tlsverify=false: TLS, no verification", flags: engineFlags{host: "tcp://h:2376", tlsVerify: optionalBool{false, true}}, env: map[string]string{"DOCKER_CERT_PATH": certs}, host: "tcp://h:2376", tlsData: true, skipVerify: true},
		{name: "--tlscacert", flags: engineFlags{host: "tcp://h:2376", tlsVerify: optionalBool{true, true}, tlsCA: filepath.Join(certs, "ca.pem")}, env: map[string]string{"DOCKER_CERT_PATH": noCA}, host: "tcp://h:2376", tlsData: true},
		{name: "certificates in the config folder", env: map[string]string{"DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CONFIG": certs}, host: "tcp://h:2376", tlsData: true},

		{name: "--host and --context", flags: engineFlags{host: "unix:///x.sock", contextName: "alpha"}, err: "cannot specify both --host and --context", usage: true},
		{name: "unknown context", flags: engineFlags{contextName: "nope"}, err: `docker context "nope" (from --context) does not exist`},
		{name: "unknown DOCKER_CONTEXT", env: map[string]string{"DOCKER_CONTEXT": "nope"}, err: "(from DOCKER_CONTEXT) does not exist"},
		{name: "malformed config.json", env: map[string]string{"DOCKER_CONFIG": broken}, err: filepath.Join(broken, "config.json")},
		{name: "TLS without ca.pem", env: map[string]string{"DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": noCA}, err: filepath.Join(noCA, "ca.pem")},
		{name: "bad host", env: map[string]string{"DOCKER_HOST": "http://h"}, err: `docker host "http://h"`, usage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"DOCKER_CONFIG": cfg}
			for k, v := range tt.env {
				env[k] = v
			}
			ep, headers, err := resolveEndpoint(tt.flags, func(k string) string { return env[k] })
			if tt.err != "" {
				var ue usageError
				if err == nil || !strings.Contains(err.Error(), tt.err) || errors.As(err, &ue) != tt.usage {
					t.Fatalf("error %v, want one with %q (usage error: %v)", err, tt.err, tt.usage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ep.Host != tt.host || (ep.TLSData != nil) != tt.tlsData || ep.SkipTLSVerify != tt.skipVerify {
				t.Errorf("endpoint %s (TLS data %v, skip verify %v), want %s (%v, %v)", ep.Host, ep.TLSData != nil, ep.SkipTLSVerify, tt.host, tt.tlsData, tt.skipVerify)
			}
			if len(headers) != len(tt.headers) || headers["X-Meta"] != tt.headers["X-Meta"] {
				t.Errorf("headers %v, want %v", headers, tt.headers)
			}
			if _, err := ep.ClientOpts(); err != nil {
				t.Errorf("client options: %v", err)
			}
		})
	}
}

// TestUnknownCurrentContext: a currentContext in config.json that names
// no context is an error that names the file.
func TestUnknownCurrentContext(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"currentContext": "gone"}`), 0o600)
	_, _, err := resolveEndpoint(engineFlags{}, func(k string) string { return map[string]string{"DOCKER_CONFIG": dir}[k] })
	if err == nil || !strings.Contains(err.Error(), `"gone" (from currentContext in `+filepath.Join(dir, "config.json")+")") {
		t.Errorf("error %v", err)
	}
}

// TestContextGoDebug: a context's GODEBUG metadata is set, as docker does,
// unless GODEBUG is set already.
func TestContextGoDebug(t *testing.T) {
	dir := t.TempDir()
	s := store.New(filepath.Join(dir, "contexts"), store.NewConfig(nil, store.EndpointTypeGetter(docker.DockerEndpoint, func() any { return &docker.EndpointMeta{} })))
	if err := s.CreateOrUpdate(store.Metadata{Name: "old", Metadata: map[string]any{"GODEBUG": "x509negativeserial=1"},
		Endpoints: map[string]any{docker.DockerEndpoint: docker.EndpointMeta{Host: "tcp://old:2376"}}}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GODEBUG", "")
	if _, err := contextEndpoint(filepath.Join(dir, "contexts"), "old", "--context"); err != nil {
		t.Fatal(err)
	}
	if got := os.Getenv("GODEBUG"); got != "x509negativeserial=1" {
		t.Errorf("GODEBUG = %q", got)
	}
	t.Setenv("GODEBUG", "madvdontneed=1")
	contextEndpoint(filepath.Join(dir, "contexts"), "old", "--context")
	if got := os.Getenv("GODEBUG"); got != "madvdontneed=1" {
		t.Errorf("GODEBUG set by the user was replaced: %q", got)
	}
}

// saveContext writes a docker context into the store under cfgDir, as
// docker context create does.
func saveContext(t testing.TB, cfgDir, name, host string, tlsData *store.EndpointTLSData) {
	t.Helper()
	s := store.New(filepath.Join(cfgDir, "contexts"), store.NewConfig(nil, store.EndpointTypeGetter(docker.DockerEndpoint, func() any { return &docker.EndpointMeta{} })))
	if err := s.CreateOrUpdate(store.Metadata{Name: name, Endpoints: map[string]any{docker.DockerEndpoint: docker.EndpointMeta{Host: host}}}); err != nil {
		t.Fatal(err)
	}
	if tlsData != nil {
		if err := s.ResetTLSMaterial(name, &store.ContextTLSData{Endpoints: map[string]store.EndpointTLSData{docker.DockerEndpoint: *tlsData}}); err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t testing.TB, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(parts...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeTestCerts writes a CA (ca.pem), a client certificate and key
// (cert.pem, key.pem) as DOCKER_CERT_PATH holds them, and a server
// certificate for 127.0.0.1 and localhost (server-cert.pem,
// server-key.pem), all signed by that CA, into dir. It returns the
// server's TLS configuration, which asks for a client certificate from
// the CA.
func writeTestCerts(t testing.TB, dir string) *tls.Config {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stackctl test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, usage x509.ExtKeyUsage, certFile, keyFile string) tls.Certificate {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: certFile},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, _ := x509.MarshalECPrivateKey(key)
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
		writeFile(t, filepath.Join(dir, certFile), certPEM)
		writeFile(t, filepath.Join(dir, keyFile), keyPEM)
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return pair
	}
	writeFile(t, filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	issue(2, x509.ExtKeyUsageClientAuth, "cert.pem", "key.pem")
	server := issue(3, x509.ExtKeyUsageServerAuth, "server-cert.pem", "server-key.pem")
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{Certificates: []tls.Certificate{server}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCommandLinksNoDockerCLICommand: what cmd/stackctl imports from
// outside this module (the connection, the plugin protocol) does not bring
// docker/cli's command package, its flags or its plugin framework, which
// link swarmkit, etcd, notary and the OpenTelemetry SDK. (compose's
// imports are compose's to check.)
func TestCommandLinksNoDockerCLICommand(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var external []string
	for _, p := range strings.Fields(string(out)) {
		if strings.Contains(strings.Split(p, "/")[0], ".") && !strings.HasPrefix(p, "github.com/stackctl/stackctl/") {
			external = append(external, p)
		}
	}
	deps, err := exec.Command("go", append([]string{"list", "-deps"}, external...)...).Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, p := range strings.Fields(string(deps)) {
		switch p {
		case "github.com/docker/cli/cli/command", "github.com/docker/cli/cli/flags", "github.com/docker/cli/cli-plugins/plugin":
			t.Errorf("cmd/stackctl links %s through %v", p, external)
		}
	}
	if len(external) == 0 || !strings.Contains(string(deps), "github.com/docker/cli/cli/context/store") {
		t.Errorf("the check saw none of the connection's packages: %v", external)
	}
}
