package sopsbridge

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// captureStderr returns what fn writes to file descriptor 2, which is
// where the SDKs' and sops's loggers write, whatever os.Stderr holds.
func captureStderr(t *testing.T, fn func()) string {
	t.Helper()
	saved, err := syscall.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	if err := syscall.Dup3(int(w.Fd()), 2, 0); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			syscall.Dup3(saved, 2, 0)
			syscall.Close(saved)
			w.Close()
		}()
		fn()
	}()
	return <-out
}

// TestReadKeepsSDKLogsOffStderr: a file with an AWS KMS key makes the AWS
// SDK look for credentials, and its IMDS client, refused a token, used to
// print "SDK ... WARN falling back to IMDSv1" in the middle of stackctl's
// output. Decrypting never logs a value either.
func TestReadKeepsSDKLogsOffStderr(t *testing.T) {
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut { // the IMDSv2 token
			w.WriteHeader(http.StatusForbidden)
			return
		}
		http.NotFound(w, r)
	}))
	defer imds.Close()
	empty := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_EC2_METADATA_SERVICE_ENDPOINT":      imds.URL,
		"AWS_EC2_METADATA_DISABLED":              "",
		"AWS_CONFIG_FILE":                        empty,
		"AWS_SHARED_CREDENTIALS_FILE":            empty,
		"AWS_ACCESS_KEY_ID":                      "",
		"AWS_SECRET_ACCESS_KEY":                  "",
		"AWS_SESSION_TOKEN":                      "",
		"AWS_PROFILE":                            "",
		"AWS_WEB_IDENTITY_TOKEN_FILE":            "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"SOPS_AGE_KEY_FILE":                      testKeyFile(t),
	} {
		t.Setenv(k, v)
	}
	kmsFile := sopsFile(t, "    kms:\n        - arn: arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555\n          created_at: \"2026-11-23T09:27:00Z\"\n          enc: AQICAHhsb21lZGF0YQ==\n          aws_profile: \"\"\n")

	var kmsErr error
	stderr := captureStderr(t, func() {
		_, kmsErr = NewReader().Read(context.Background(), fileSource(kmsFile, path("a")))
		for _, f := range fixtures {
			for _, p := range [][]string{nil, {"db", "password"}, {"api_key"}, {"DB_PASSWORD"}, {"password"}} {
				NewReader().Read(context.Background(), fileSource(fixture(f.file), &SOPSRef{Path: p}))
			}
		}
	})
	if kmsErr == nil || !strings.Contains(kmsErr.Error(), "kms arn:aws:kms:us-east-1") {
		t.Errorf("err = %v, want a failure naming the KMS key", kmsErr)
	}
	if strings.TrimSpace(stderr) != "" {
		t.Errorf("reading wrote to stderr:\n%s", stderr)
	}
	for _, c := range []string{canaryDBPassword, canaryAPIKey, canaryTLS} {
		if strings.Contains(stderr, c) {
			t.Errorf("a secret value reached stderr")
		}
	}
}
