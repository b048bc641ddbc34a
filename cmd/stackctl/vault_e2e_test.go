//go:build e2e

package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// vaultServer starts a throwaway Vault dev server (in memory, unsealed,
// KV v2 mounted at secret/) on 127.0.0.1 and returns its address
// (http://127.0.0.1:port) and root token. The binary is $STACKCTL_VAULT,
// which make test builds with .ci/vault; the server is killed when the
// test ends.
func vaultServer(t testing.TB) (addr, token string) {
	t.Helper()
	bin := os.Getenv("STACKCTL_VAULT")
	if bin == "" {
		t.Fatal("the Vault tests need a Vault server: run make test, which builds one (.ci/vault), or set STACKCTL_VAULT")
	}
	port := freePortPair(t)
	buf := make([]byte, 16)
	if _, err := rand.Read(buf); err != nil {
		t.Fatal(err)
	}
	token = "stackctl-test-" + hex.EncodeToString(buf)
	addr = "http://127.0.0.1:" + strconv.Itoa(port)

	cmd := exec.Command(bin, "server", "-dev", "-dev-no-store-token",
		"-dev-listen-address=127.0.0.1:"+strconv.Itoa(port), "-dev-root-token-id="+token)
	// No VAULT_* from the caller's environment (an address, a token, a
	// config) reaches the dev server.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VAULT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})

	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(addr + "/v1/sys/health")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr, token
			}
			err = fmt.Errorf("GET /v1/sys/health: %s", resp.Status)
		}
		select {
		case werr := <-exited:
			exited <- werr // for the cleanup
			t.Fatalf("the Vault dev server exited before it answered (%v):\n%s", werr, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Vault dev server on %s did not answer /v1/sys/health with 200 within 30 s (last: %v):\n%s", addr, err, logs.String())
		}
	}
}

// freePortPair returns a port on 127.0.0.1 that is free with the next one
// too: a dev server listens on port+1 for its cluster.
func freePortPair(t testing.TB) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+1))
		l.Close()
		if err == nil {
			l2.Close()
			return port
		}
	}
	t.Fatal("no two free ports in a row on 127.0.0.1 for the Vault dev server")
	return 0
}

// lockedBuffer collects a process's output while the test may read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// vaultRequest sends one request to Vault's HTTP API with the token and
// decodes the JSON answer into out; any status but 2xx fails the test.
func vaultRequest(t testing.TB, method, url, token string, body, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Vault-Token", token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s: %s", method, url, resp.Status, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("%s %s: decoding %q: %v", method, url, raw, err)
	}
}

// vaultPut writes data as a new version of the KV v2 secret at path under
// mount and returns that version.
func vaultPut(t testing.TB, addr, token, mount, path string, data map[string]string) int {
	t.Helper()
	var out struct {
		Data struct {
			Version int `json:"version"`
		} `json:"data"`
	}
	url := fmt.Sprintf("%s/v1/%s/data/%s", addr, mount, path)
	vaultRequest(t, http.MethodPost, url, token, map[string]any{"data": data}, &out)
	if out.Data.Version == 0 {
		t.Fatalf("POST %s: no data.version in the answer", url)
	}
	return out.Data.Version
}

// vaultGet reads the newest version of the KV v2 secret at path under
// mount: its data and its version.
func vaultGet(t testing.TB, addr, token, mount, path string) (map[string]string, int) {
	t.Helper()
	var out struct {
		Data struct {
			Data     map[string]string `json:"data"`
			Metadata struct {
				Version int `json:"version"`
			} `json:"metadata"`
		} `json:"data"`
	}
	url := fmt.Sprintf("%s/v1/%s/data/%s", addr, mount, path)
	vaultRequest(t, http.MethodGet, url, token, nil, &out)
	return out.Data.Data, out.Data.Metadata.Version
}

// TestVaultServerHarness proves the helpers above against a real server:
// two writes make versions 1 and 2, and a read gives the second.
func TestVaultServerHarness(t *testing.T) {
	addr, token := vaultServer(t)
	for want := 1; want <= 2; want++ {
		if got := vaultPut(t, addr, token, "secret", "harness", map[string]string{"password": "CANARY-vault-harness"}); got != want {
			t.Fatalf("write %d: version %d, want %d", want, got, want)
		}
	}
	data, version := vaultGet(t, addr, token, "secret", "harness")
	if version != 2 || len(data) != 1 || data["password"] != "CANARY-vault-harness" {
		t.Fatalf("read: version %d, data %v; want version 2, password CANARY-vault-harness", version, data)
	}
}
