//go:build e2e

package main

// Helpers for the end-to-end tests: a real engine in swarm mode, a test
// image built from testdata/app, unique stack names, and cleanup that runs
// even when a test fails.

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/stackctl/stackctl/rotate/engine"
)

var (
	engineOnce sync.Once
	engineAPI  *client.Client
	engineErr  error
	imageOnce  sync.Once
	imageRef   string
	imageErr   error
)

// realEngine returns a client for the local engine, which must be a swarm
// manager. Without one the test fails in CI and is skipped elsewhere.
func realEngine(t testing.TB) *client.Client {
	t.Helper()
	engineOnce.Do(func() {
		engineAPI, engineErr = client.NewClientWithOpts(client.FromEnv)
		if engineErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		info, err := engineAPI.Info(ctx, client.InfoOptions{})
		switch {
		case err != nil:
			engineErr = fmt.Errorf("no Docker engine answers: %w", err)
		case !info.Info.Swarm.ControlAvailable:
			engineErr = fmt.Errorf("the engine is not a swarm manager: run docker swarm init --advertise-addr 127.0.0.1")
		}
	})
	if engineErr != nil {
		t.Fatalf("the end-to-end tests need a Docker engine that is a swarm manager (make test starts one): %v", engineErr)
	}
	return engineAPI
}

// testImage builds the test workload once per test binary: a FROM-scratch
// image with a static build of testdata/app, imported under a unique tag.
func testImage(t testing.TB) string {
	t.Helper()
	api := realEngine(t)
	imageOnce.Do(func() {
		imageRef, imageErr = buildTestImage(api)
		cleanups = append(cleanups, removeTestImage)
	})
	if imageErr != nil {
		t.Fatalf("build the test image: %v", imageErr)
	}
	return imageRef
}

func buildTestImage(api *client.Client) (string, error) {
	dir, err := os.MkdirTemp("", "stackctl-app")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "app")
	build := exec.Command("go", "build", "-o", bin, "./testdata/app")
	build.Dir = filepath.Join("..", "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "app", Mode: 0o755, Size: int64(len(data))}); err != nil {
		return "", err
	}
	tw.Write(data)
	tw.Close()
	ref := "stackctl-test:" + randomHex(6)
	rc, err := api.ImageImport(context.Background(), client.ImageImportSource{Source: &buf, SourceName: "-"}, ref,
		client.ImageImportOptions{Changes: []string{`ENTRYPOINT ["/app"]`, `CMD ["sleep"]`}})
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, rc)
	rc.Close()
	return ref, nil
}

// removeTestImage removes the test image once swarm has removed the
// containers of the tests' services, so that no untagged image is left.
func removeTestImage() {
	if imageRef == "" || engineAPI == nil {
		return
	}
	ctx := context.Background()
	f := make(client.Filters).Add("ancestor", imageRef)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if list, err := engineAPI.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f}); err == nil && len(list.Items) == 0 {
			break
		}
	}
	engineAPI.ImageRemove(ctx, imageRef, client.ImageRemoveOptions{Force: true, PruneChildren: true})
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newStack returns a unique stack name and removes everything labelled
// with it when the test ends, as `docker stack rm` would.
func newStack(t testing.TB) string {
	t.Helper()
	api := realEngine(t)
	name := "e2e" + randomHex(4)
	t.Cleanup(func() { removeStack(t, api, name) })
	return name
}

func removeStack(t testing.TB, api *client.Client, stack string) {
	ctx := context.Background()
	f := make(client.Filters).Add("label", "com.docker.stack.namespace="+stack)
	services, _ := api.ServiceList(ctx, client.ServiceListOptions{Filters: f})
	for _, s := range services.Items {
		api.ServiceRemove(ctx, s.ID, client.ServiceRemoveOptions{})
	}
	// Secrets, configs and networks can be removed once the tasks are gone.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var left []string
		secrets, _ := api.SecretList(ctx, client.SecretListOptions{Filters: f})
		for _, s := range secrets.Items {
			if _, err := api.SecretRemove(ctx, s.ID, client.SecretRemoveOptions{}); err != nil {
				left = append(left, s.Spec.Name)
			}
		}
		configs, _ := api.ConfigList(ctx, client.ConfigListOptions{Filters: f})
		for _, c := range configs.Items {
			if _, err := api.ConfigRemove(ctx, c.ID, client.ConfigRemoveOptions{}); err != nil {
				left = append(left, c.Spec.Name)
			}
		}
		// A lock left by a deploy the test killed.
		locks, _ := api.ConfigList(ctx, client.ConfigListOptions{Filters: make(client.Filters).Add("label", engine.LabelLock+"="+stack)})
		for _, c := range locks.Items {
			api.ConfigRemove(ctx, c.ID, client.ConfigRemoveOptions{})
		}
		nets, _ := api.NetworkList(ctx, client.NetworkListOptions{Filters: f})
		for _, n := range nets.Items {
			if _, err := api.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil {
				left = append(left, n.Name)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("cleanup of stack %s left: %s", stack, strings.Join(left, ", "))
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// result is one run of the stackctl binary.
type result struct {
	stdout, stderr string
	code           int
}

// stackctl runs the built binary in dir with the test key and extra env.
func stackctl(t testing.TB, dir string, env []string, args ...string) result {
	t.Helper()
	return stackctlIn(t, dir, "", env, args...)
}

// mustStackctl runs stackctl as stackctl does, and ends the test at once
// when it exits non-zero: for the steps that set up what a test is about.
func mustStackctl(t testing.TB, dir string, env []string, args ...string) result {
	t.Helper()
	r := stackctl(t, dir, env, args...)
	if r.code != 0 {
		t.Fatalf("stackctl %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

// stackctlIn is stackctl with standard input.
func stackctlIn(t testing.TB, dir, stdin string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "SOPS_AGE_KEY_FILE="+testdataPath(t, "age", "test-key.txt")), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

// writeDir writes files into a fresh folder; {{image}} and {{sops}} are
// replaced by the test image and testdata/sops.
func writeDir(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeInto(t, dir, files)
	return dir
}

func writeInto(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		content = strings.ReplaceAll(content, "{{image}}", testImage(t))
		content = strings.ReplaceAll(content, "{{sops}}", testdataPath(t, "sops"))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// serviceTasks lists a service's tasks.
func serviceTasks(t testing.TB, api *client.Client, service string) []swarm.Task {
	t.Helper()
	tasks, err := api.TaskList(context.Background(), client.TaskListOptions{Filters: make(client.Filters).Add("service", service)})
	if err != nil {
		t.Fatal(err)
	}
	return tasks.Items
}

// readInContainers returns what each running task of a service reads at path.
func readInContainers(t testing.TB, api *client.Client, service, path string) []string {
	t.Helper()
	var out []string
	for _, task := range serviceTasks(t, api, service) {
		if task.DesiredState != swarm.TaskStateRunning || task.Status.ContainerStatus == nil {
			continue
		}
		b, err := exec.Command("docker", "exec", task.Status.ContainerStatus.ContainerID, "/app", "cat", path).Output()
		if err != nil {
			t.Fatalf("docker exec %s cat %s: %v", service, path, err)
		}
		out = append(out, string(b))
	}
	return out
}

func inspectService(t testing.TB, api *client.Client, name string) swarm.Service {
	t.Helper()
	got, err := api.ServiceInspect(context.Background(), name, client.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got.Service
}
