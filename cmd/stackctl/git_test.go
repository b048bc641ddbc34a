package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// isolateGit keeps the host's git configuration out of a test: no global
// or system settings, so no identity either.
func isolateGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("the git tests need git: apt-get install git")
	}
	empty := filepath.Join(t.TempDir(), "gitconfig")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GIT_CONFIG_GLOBAL", empty)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	for _, k := range []string{"GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_DIR", "GIT_WORK_TREE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

// gitT runs git in dir as a test step, with an identity of its own.
func gitT(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=test", "-c", "user.email=test@example.com"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// gitRemote makes a bare repository (branch main) holding files, and a
// clone of it whose main tracks origin/main; it returns both.
func gitRemote(t testing.TB, files map[string]string) (bare, work string) {
	t.Helper()
	root := t.TempDir()
	bare, work = filepath.Join(root, "remote.git"), filepath.Join(root, "work")
	gitT(t, root, "init", "-q", "--bare", "-b", "main", bare)
	gitT(t, root, "clone", "-q", bare, work)
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(work, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	gitT(t, work, "checkout", "-q", "-b", "main")
	gitT(t, work, "add", "-A")
	gitT(t, work, "commit", "-q", "-m", "initial")
	gitT(t, work, "push", "-q", "-u", "origin", "main")
	return bare, work
}

// rejectPushes installs a pre-receive hook in a bare repository that
// refuses every push, as a protected branch does.
func rejectPushes(t testing.TB, bare string) {
	t.Helper()
	hook := "#!/bin/sh\necho 'protected branch: changes must be made through a pull request' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bare, "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
}

func envDeps(env map[string]string) (*deps, *strings.Builder) {
	d, _, _ := testDeps("")
	var errb strings.Builder
	d.stderr = &errb
	d.getenv = func(k string) string { return env[k] }
	return d, &errb
}

func TestGitCheckBeforeWrite(t *testing.T) {
	isolateGit(t)
	tests := []struct {
		name    string
		flags   gitFlags
		setup   func(t *testing.T, work string) // the file is work/app.enc.yaml
		env     map[string]string
		record  bool   // a Record func is returned
		wantErr string // a usage error with this text
	}{
		{name: "tracked", record: true},
		{name: "untracked", setup: func(t *testing.T, w string) { gitT(t, w, "rm", "-q", "--cached", "app.enc.yaml") },
			wantErr: "app.enc.yaml is not tracked by git: a new value written there would never be committed, and the next deploy from git would roll the old one back: git add it first, or pass --no-commit-check"},
		{name: "ignored", setup: func(t *testing.T, w string) {
			os.WriteFile(filepath.Join(w, ".gitignore"), []byte("*.enc.yaml\n"), 0o600)
			gitT(t, w, "rm", "-q", "--cached", "app.enc.yaml")
		}, wantErr: "app.enc.yaml is ignored by git (.gitignore:1:*.enc.yaml)"},
		{name: "untracked with --no-commit-check", flags: gitFlags{noCheck: true}, setup: func(t *testing.T, w string) { gitT(t, w, "rm", "-q", "--cached", "app.enc.yaml") }},
		{name: "outside a work tree", setup: func(t *testing.T, w string) { os.RemoveAll(filepath.Join(w, ".git")) }},
		{name: "--commit outside a work tree", flags: gitFlags{commit: true}, setup: func(t *testing.T, w string) { os.RemoveAll(filepath.Join(w, ".git")) },
			wantErr: "--commit commits the rotated file, but"},
		{name: "--commit", flags: gitFlags{commit: true}, record: true},
		{name: "--commit on a detached HEAD", flags: gitFlags{commit: true}, setup: func(t *testing.T, w string) { gitT(t, w, "checkout", "-q", "--detach") },
			wantErr: "HEAD is detached"},
		{name: "--commit on a detached HEAD in GitHub Actions", flags: gitFlags{commit: true}, setup: func(t *testing.T, w string) { gitT(t, w, "checkout", "-q", "--detach") },
			env: map[string]string{"GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main"}, record: true},
		{name: "--commit without a remote", flags: gitFlags{commit: true}, setup: func(t *testing.T, w string) { gitT(t, w, "remote", "remove", "origin") },
			wantErr: "branch main has no upstream and git has no remote origin"},
		{name: "--pull-request without a token", flags: gitFlags{pullRequest: true}, env: map[string]string{"GITHUB_REPOSITORY": "acme/shop"},
			wantErr: "set GITHUB_REPOSITORY (owner/name) and GITHUB_TOKEN"},
		{name: "--pull-request", flags: gitFlags{pullRequest: true}, env: map[string]string{"GITHUB_REPOSITORY": "acme/shop", "GITHUB_TOKEN": "t"}, record: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, work := gitRemote(t, map[string]string{"app.enc.yaml": "sops: ciphertext\n"})
			if tt.setup != nil {
				tt.setup(t, work)
			}
			d, _ := envDeps(tt.env)
			rec, err := tt.flags.record(context.Background(), d, []string{"db_password"}, []string{filepath.Join(work, "app.enc.yaml")}, false)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || exitCode(err, false) != exitUsage {
					t.Fatalf("err = %v (exit %d), want a usage error with %q", err, exitCode(err, false), tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (rec != nil) != tt.record {
				t.Errorf("a Record func: %t, want %t", rec != nil, tt.record)
			}
		})
	}
}

func TestGitCheckWithoutGit(t *testing.T) {
	isolateGit(t)
	_, work := gitRemote(t, map[string]string{"app.enc.yaml": "x\n"})
	outside := filepath.Join(t.TempDir(), "app.enc.yaml")
	t.Setenv("PATH", t.TempDir()) // no git on it
	d, _ := envDeps(nil)
	var g gitFlags
	_, err := g.record(context.Background(), d, []string{"db_password"}, []string{filepath.Join(work, "app.enc.yaml")}, false)
	if err == nil || !strings.Contains(err.Error(), "but git is not installed") || !strings.Contains(err.Error(), filepath.Join(work, ".git")) {
		t.Errorf("in a work tree without git: %v", err)
	}
	if rec, err := g.record(context.Background(), d, []string{"db_password"}, []string{outside}, false); rec != nil || err != nil {
		t.Errorf("outside a work tree without git: %v", err)
	}
	g.commit = true
	if _, err := g.record(context.Background(), d, []string{"db_password"}, []string{outside}, false); err == nil || !strings.Contains(err.Error(), "--commit runs git, which is not installed") {
		t.Errorf("--commit without git: %v", err)
	}
}

func TestGitFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(rotateOptions) bool
		wantErr string
	}{
		{"none", []string{"s"}, func(o rotateOptions) bool {
			return !o.git.commit && !o.git.pullRequest && !o.git.noCheck && !o.rotate.NoDeploy
		}, ""},
		{"commit", []string{"s", "--commit"}, func(o rotateOptions) bool { return o.git.commit && !o.rotate.NoDeploy }, ""},
		{"pull request deploys nothing", []string{"s", "--pull-request"}, func(o rotateOptions) bool { return o.git.pullRequest && o.rotate.NoDeploy }, ""},
		{"no check", []string{"s", "--no-commit-check"}, func(o rotateOptions) bool { return o.git.noCheck }, ""},
		{"two", []string{"s", "--commit", "--pull-request"}, nil, "choose one of --commit, --pull-request and --no-commit-check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkFlags(t, newRotateCmd, tt.args, tt.check, tt.wantErr) })
	}
}

// rotateFile stands for a rotation's write: the file changes in place.
func rotateFile(t *testing.T, file string) {
	t.Helper()
	if err := os.WriteFile(file, []byte("sops: new ciphertext\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestGitStage(t *testing.T) {
	isolateGit(t)
	_, work := gitRemote(t, map[string]string{"app.enc.yaml": "sops: ciphertext\n"})
	file := filepath.Join(work, "app.enc.yaml")
	d, errb := envDeps(nil)
	rec, err := (&gitFlags{}).record(context.Background(), d, []string{"db_password"}, []string{file}, false)
	if err != nil {
		t.Fatal(err)
	}
	rotateFile(t, file)
	if err := rec(context.Background(), []string{file}); err != nil {
		t.Fatal(err)
	}
	if got := gitT(t, work, "diff", "--cached", "--name-only"); got != "app.enc.yaml" {
		t.Errorf("staged: %q", got)
	}
	if !strings.Contains(errb.String(), `git commit -m 'stackctl: rotate db_password' -- `+file) {
		t.Errorf("no commit hint:\n%s", errb.String())
	}
}

// commitRotation records a rotation of work/app.enc.yaml with --commit,
// while the user has another change staged.
func commitRotation(t *testing.T, work string) error {
	t.Helper()
	file := filepath.Join(work, "app.enc.yaml")
	d, _ := envDeps(nil)
	rec, err := (&gitFlags{commit: true}).record(context.Background(), d, []string{"db_password"}, []string{file}, false)
	if err != nil {
		t.Fatal(err)
	}
	rotateFile(t, file)
	os.WriteFile(filepath.Join(work, "other.txt"), []byte("b\n"), 0o600)
	gitT(t, work, "add", "other.txt")
	return rec(context.Background(), []string{file})
}

func TestGitCommitPush(t *testing.T) {
	isolateGit(t)
	tests := []struct {
		name       string
		setup      func(t *testing.T, bare, work string)
		wantAuthor string
		wantErr    []string
	}{
		{name: "no identity", wantAuthor: "stackctl <stackctl@users.noreply.github.com>"},
		{name: "configured identity", setup: func(t *testing.T, _, w string) {
			gitT(t, w, "config", "user.name", "Dev")
			gitT(t, w, "config", "user.email", "dev@example.com")
		}, wantAuthor: "Dev <dev@example.com>"},
		{name: "rejected", setup: func(t *testing.T, bare, _ string) { rejectPushes(t, bare) },
			wantErr: []string{"the rotation is committed on the local branch main", "but the push to origin main failed, so nothing was rolled out",
				"protected branch: changes must be made through a pull request", "pre-receive hook declined", "--pull-request"}},
		{name: "behind", setup: func(t *testing.T, bare, _ string) {
			other := filepath.Join(t.TempDir(), "other")
			gitT(t, filepath.Dir(other), "clone", "-q", bare, other)
			os.WriteFile(filepath.Join(other, "README"), []byte("moved on\n"), 0o600)
			gitT(t, other, "add", "README")
			gitT(t, other, "commit", "-q", "-m", "moved on")
			gitT(t, other, "push", "-q")
		}, wantErr: []string{"push to origin main failed", "git pull --rebase"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bare, work := gitRemote(t, map[string]string{"app.enc.yaml": "sops: ciphertext\n", "other.txt": "a\n"})
			if tt.setup != nil {
				tt.setup(t, bare, work)
			}
			before := gitT(t, bare, "rev-parse", "main")
			err := commitRotation(t, work)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatal("no error")
				}
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error does not say %q:\n%v", want, err)
					}
				}
				if got := gitT(t, bare, "rev-parse", "main"); got != before && tt.name == "rejected" {
					t.Error("the remote moved")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := gitT(t, bare, "log", "-1", "--format=%s%n%an <%ae>", "main"); got != "stackctl: rotate db_password\n"+tt.wantAuthor {
				t.Errorf("pushed commit:\n%s", got)
			}
			if got := gitT(t, bare, "show", "--name-only", "--format=", "main"); got != "app.enc.yaml" {
				t.Errorf("the commit changes %q, want app.enc.yaml alone", got)
			}
			if got := gitT(t, work, "diff", "--cached", "--name-only"); got != "other.txt" {
				t.Errorf("staged after the commit: %q, want other.txt", got)
			}
		})
	}
}

// fakeGitHub answers POST /api/v3/repos/acme/shop/pulls (with token
// tok-123) with status and answer, and keeps the request's body.
func fakeGitHub(t *testing.T, status int, answer string) (*httptest.Server, *newPull) {
	t.Helper()
	var got newPull
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v3/repos/acme/shop/pulls" || r.Header.Get("Authorization") != "Bearer tok-123" {
			t.Errorf("%s %s with %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &got); err != nil {
			t.Error(err)
		}
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func TestGitPullRequest(t *testing.T) {
	isolateGit(t)
	const branch = "stackctl/rotate-db_password-20240102T030405Z"
	tests := []struct {
		name    string
		status  int
		answer  string
		wantErr string
	}{
		{"opened", http.StatusCreated, `{"number": 7, "html_url": "https://github.example/acme/shop/pull/7"}`, ""},
		{"refused", http.StatusUnprocessableEntity, `{"message": "Validation Failed", "errors": [{"message": "A pull request already exists"}]}`,
			"422 Unprocessable Entity: Validation Failed; A pull request already exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, got := fakeGitHub(t, tt.status, tt.answer)
			bare, work := gitRemote(t, map[string]string{"app.enc.yaml": "sops: ciphertext\n"})
			mainBefore := gitT(t, bare, "rev-parse", "main")
			file := filepath.Join(work, "app.enc.yaml")
			d, errb := envDeps(map[string]string{"GITHUB_API_URL": srv.URL + "/api/v3/", "GITHUB_REPOSITORY": "acme/shop", "GITHUB_TOKEN": "tok-123"})
			g := gitFlags{pullRequest: true, now: func() time.Time { return time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC) }}
			rec, err := g.record(context.Background(), d, []string{"db_password"}, []string{file}, false)
			if err != nil {
				t.Fatal(err)
			}
			rotateFile(t, file)
			err = rec(context.Background(), []string{file})
			if got.Base != "main" || got.Head != branch || got.Title != "stackctl: rotate db_password" || !strings.Contains(got.Body, "merge this pull request, then deploy") {
				t.Errorf("pull request %+v", got)
			}
			if gitT(t, bare, "rev-parse", "main") != mainBefore || gitT(t, bare, "log", "-1", "--format=%s", branch) != "stackctl: rotate db_password" {
				t.Error("the rotation is not on its own branch of the remote alone")
			}
			want := []string{"opened pull request #7", "merge the pull request, then deploy"}
			text := errb.String()
			if tt.wantErr != "" {
				want, text = []string{tt.wantErr, "branch " + branch + " is pushed to origin"}, fmt.Sprint(err)
			} else if err != nil {
				t.Fatal(err)
			}
			for _, w := range want {
				if !strings.Contains(text, w) {
					t.Errorf("%q is not in:\n%s", w, text)
				}
			}
		})
	}
}

func TestGitErrorNamesCommand(t *testing.T) {
	_, err := runGit(context.Background(), t.TempDir(), "-c", "user.name=x", "no-such-command")
	var ge *gitError
	if !errors.As(err, &ge) || ge.command != "no-such-command" || !strings.HasPrefix(err.Error(), "git no-such-command: exit status 1") {
		t.Errorf("%v", err)
	}
}
