package main

// Recording a rotation in git, so that the new value is never lost between
// the file and the engine: before anything is written, the SOPS files are
// checked (tracked by git, not ignored); once they are rewritten, and
// before anything rolls out, they are staged, or committed and pushed, or
// committed to a new branch with a pull request. git is run as a program
// (argument lists, never a shell) with the environment inherited, so its
// own configuration, credentials and hooks apply.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/stackctl/stackctl/rotate/engine"
)

// gitFlags are rotate's flags that record the rewritten files in git;
// they register and check themselves.
type gitFlags struct {
	commit, pullRequest, noCheck bool
	// now names pull request branches; nil is time.Now.
	now func() time.Time
}

func (g *gitFlags) register(f *pflag.FlagSet) {
	f.BoolVar(&g.commit, "commit", false, "git commit the rewritten files and push them to the branch's upstream before anything rolls out")
	f.BoolVar(&g.pullRequest, "pull-request", false, "commit the rewritten files to a new branch, push it and open a GitHub pull request; roll nothing out")
	f.BoolVar(&g.noCheck, "no-commit-check", false, "neither check nor stage the rewritten files in git")
}

func (g *gitFlags) validate() error {
	n := 0
	for _, set := range []bool{g.commit, g.pullRequest, g.noCheck} {
		if set {
			n++
		}
	}
	if n > 1 {
		return usageError{errors.New("choose one of --commit, --pull-request and --no-commit-check")}
	}
	return nil
}

// The default stages the files; the flags commit them.
type gitMode int

const (
	gitStage gitMode = iota
	gitCommit
	gitPullRequest
)

func (g *gitFlags) mode() gitMode {
	switch {
	case g.commit:
		return gitCommit
	case g.pullRequest:
		return gitPullRequest
	}
	return gitStage
}

func (m gitMode) flag() string {
	if m == gitPullRequest {
		return "--pull-request"
	}
	return "--commit"
}

// gitFile is a file in a git work tree: the tree, and the path git names
// it by (relative to the tree, with slashes).
type gitFile struct{ top, path string }

// gitRecorder records the files of one rotation, as prepared by record.
type gitRecorder struct {
	mode    gitMode
	secrets []string
	top     string // the work tree, for a commit
	// branch is the branch committed on (the pull request's base): pushed
	// to remoteRef on remote.
	branch, remote, remoteRef string
	// ident sets git's identity where none is configured.
	ident  []string
	github githubAPI
	now    func() time.Time
	report engine.Reporter
}

// record checks, before anything is written, that git can record files,
// and returns the RotateOptions.Record that does; nil when there is
// nothing to do (--no-commit-check, or no file in a git work tree).
func (g *gitFlags) record(ctx context.Context, d *deps, secrets, files []string, quiet bool) (func(context.Context, []string) error, error) {
	if g.noCheck {
		return nil, nil
	}
	r := &gitRecorder{mode: g.mode(), secrets: secrets, now: g.now, report: reporter(d, quiet)}
	if r.now == nil {
		r.now = time.Now
	}
	if r.mode != gitStage {
		if _, err := exec.LookPath("git"); err != nil {
			return nil, usageError{fmt.Errorf("%s runs git, which is not installed: install git", r.mode.flag())}
		}
	}
	inRepo, err := r.inspect(ctx, files)
	if err != nil {
		return nil, err
	}
	if !inRepo {
		return nil, nil
	}
	if r.mode != gitStage {
		if err := r.prepareCommit(ctx, d.getenv); err != nil {
			return nil, err
		}
	}
	return r.record, nil
}

// inspect checks each file and tells whether any is in a git work tree;
// a commit needs them all in one.
func (r *gitRecorder) inspect(ctx context.Context, files []string) (bool, error) {
	for _, f := range files {
		gf, err := inspectFile(ctx, f)
		if err != nil {
			return false, err
		}
		switch {
		case gf.top == "" && r.mode != gitStage:
			return false, usageError{fmt.Errorf("%s commits the rotated file, but %s is in no git work tree: keep it in the repository the stack is deployed from, or leave out %s", r.mode.flag(), f, r.mode.flag())}
		case gf.top != "" && r.top != "" && gf.top != r.top && r.mode != gitStage:
			return false, usageError{fmt.Errorf("%s commits in one git work tree, but the rotated files are in %s and %s", r.mode.flag(), r.top, gf.top)}
		case gf.top != "":
			r.top = gf.top
		}
	}
	return r.top != "", nil
}

// inspectFile finds the work tree a file is in (none: zero gitFile) and
// refuses a file git does not track, whose new value would never be
// committed: the next deploy from git would roll the old one back.
func inspectFile(ctx context.Context, file string) (gitFile, error) {
	dir, base := filepath.Split(file)
	top, err := runGit(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return gitFile{}, outsideWorkTree(file, dir, err)
	}
	path, err := runGit(ctx, dir, "ls-files", "--error-unmatch", "--full-name", "--", base)
	if err == nil {
		return gitFile{top: top, path: path}, nil
	}
	if gitExitCode(err) != 1 {
		return gitFile{}, fmt.Errorf("%s: %w", file, err)
	}
	const what = "a new value written there would never be committed, and the next deploy from git would roll the old one back"
	if rule, ierr := runGit(ctx, dir, "check-ignore", "-v", "--", base); ierr == nil {
		rule, _, _ = strings.Cut(rule, "\t")
		return gitFile{}, usageError{fmt.Errorf("%s is ignored by git (%s): %s: stop ignoring it and git add it first, or pass --no-commit-check", file, rule, what)}
	}
	return gitFile{}, usageError{fmt.Errorf("%s is not tracked by git: %s: git add it first, or pass --no-commit-check", file, what)}
}

// outsideWorkTree explains a failed `git rev-parse`: nothing, when no
// .git is above the file; otherwise the file may well be in a work tree
// that git cannot read (git missing, a repository it distrusts).
func outsideWorkTree(file, dir string, err error) error {
	dotGit := findDotGit(dir)
	if dotGit == "" {
		return nil
	}
	if errors.Is(err, exec.ErrNotFound) {
		return usageError{fmt.Errorf("%s seems to be in a git work tree (%s), but git is not installed, so rotate cannot check that the new value will be committed: install git, or pass --no-commit-check", file, dotGit)}
	}
	return usageError{fmt.Errorf("%s seems to be in a git work tree (%s), but git cannot read it: %w\nfix that, or pass --no-commit-check", file, dotGit, err)}
}

// findDotGit returns the nearest .git at or above dir, or "".
func findDotGit(dir string) string {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, ".git")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// prepareCommit finds, before anything is written, the branch to commit
// on, where to push it, and who commits.
func (r *gitRecorder) prepareCommit(ctx context.Context, getenv func(string) string) error {
	branch, err := currentBranch(ctx, r.top, getenv)
	if err != nil {
		return usageError{err}
	}
	r.branch = branch
	r.remote, r.remoteRef = upstream(ctx, r.top, branch)
	if _, err := runGit(ctx, r.top, "remote", "get-url", r.remote); err != nil && !strings.Contains(r.remote, "/") {
		return usageError{fmt.Errorf("%s pushes the rotation, but branch %s has no upstream and git has no remote %s: set one (git push -u REMOTE %s), or leave out %s", r.mode.flag(), branch, r.remote, branch, r.mode.flag())}
	}
	r.ident = identity(ctx, r.top)
	if r.mode == gitPullRequest {
		if r.github, err = githubFromEnv(getenv); err != nil {
			return usageError{err}
		}
	}
	return nil
}

// currentBranch is the branch checked out; on a detached HEAD (as
// actions/checkout leaves some events), the branch GitHub Actions names.
func currentBranch(ctx context.Context, top string, getenv func(string) string) (string, error) {
	if b, err := runGit(ctx, top, "symbolic-ref", "-q", "--short", "HEAD"); err == nil {
		return b, nil
	}
	if name := getenv("GITHUB_REF_NAME"); name != "" && getenv("GITHUB_REF") == "refs/heads/"+name {
		return name, nil
	}
	return "", errors.New("HEAD is detached (no branch is checked out), so there is no branch to record the rotation on: check out the branch the stack is deployed from, or pass --no-commit-check")
}

// upstream is the remote and ref a branch pushes to: its upstream, or the
// branch of the same name on origin.
func upstream(ctx context.Context, top, branch string) (remote, ref string) {
	remote, rerr := runGit(ctx, top, "config", "branch."+branch+".remote")
	ref, merr := runGit(ctx, top, "config", "branch."+branch+".merge")
	if rerr != nil || merr != nil || remote == "." || !strings.HasPrefix(ref, "refs/heads/") {
		return "origin", "refs/heads/" + branch
	}
	return remote, ref
}

// identity falls back to stackctl's where git has no user configured
// (GIT_AUTHOR_NAME and the like still win over it).
func identity(ctx context.Context, top string) []string {
	var ident []string
	for _, kv := range [][2]string{{"user.name", "stackctl"}, {"user.email", "stackctl@users.noreply.github.com"}} {
		if v, err := runGit(ctx, top, "config", kv[0]); err != nil || v == "" {
			ident = append(ident, "-c", kv[0]+"="+kv[1])
		}
	}
	return ident
}

// record is the RotateOptions.Record: it runs after the files read back
// as the new values, before anything rolls out.
func (r *gitRecorder) record(ctx context.Context, files []string) error {
	var (
		gfs   []gitFile
		shown []string
	)
	for _, f := range files {
		gf, err := inspectFile(ctx, f)
		if err != nil {
			return err
		}
		if gf.top != "" {
			gfs, shown = append(gfs, gf), append(shown, shellQuote(relative(f)))
		}
	}
	switch r.mode {
	case gitCommit:
		return r.commitAndPush(ctx, gfs)
	case gitPullRequest:
		return r.openPullRequest(ctx, gfs)
	}
	return r.stage(ctx, gfs, shown)
}

// stage leaves the files staged, and says how to commit them.
func (r *gitRecorder) stage(ctx context.Context, gfs []gitFile, shown []string) error {
	for _, gf := range gfs {
		if _, err := runGit(ctx, gf.top, "add", "--", gf.path); err != nil {
			return fmt.Errorf("stage %s: %w", gf.path, err)
		}
	}
	r.report.Printf("the new value is staged in git: commit and push it, or the next deploy from git rolls the old value back:\n  git commit -m %s -- %s",
		shellQuote(r.message()), strings.Join(shown, " "))
	return nil
}

func (r *gitRecorder) message() string {
	return "stackctl: rotate " + strings.Join(r.secrets, ", ")
}

// commit commits the files alone (whatever else is staged stays staged)
// and returns the commit.
func (r *gitRecorder) commit(ctx context.Context, gfs []gitFile) (string, error) {
	paths := make([]string, len(gfs))
	for i, gf := range gfs {
		paths[i] = gf.path
	}
	if _, err := runGit(ctx, r.top, append([]string{"add", "--"}, paths...)...); err != nil {
		return "", fmt.Errorf("stage %s, so nothing was rolled out: %w", strings.Join(paths, ", "), err)
	}
	args := append(append([]string{}, r.ident...), "commit", "-q", "-m", r.message(), "--")
	if _, err := runGit(ctx, r.top, append(args, paths...)...); err != nil {
		return "", fmt.Errorf("commit %s, so nothing was rolled out: %w", strings.Join(paths, ", "), err)
	}
	return runGit(ctx, r.top, "rev-parse", "--short", "HEAD")
}

// commitAndPush commits on the branch and pushes it upstream.
func (r *gitRecorder) commitAndPush(ctx context.Context, gfs []gitFile) error {
	sha, err := r.commit(ctx, gfs)
	if err != nil {
		return err
	}
	if _, err := runGit(ctx, r.top, "push", "-q", r.remote, "HEAD:"+r.remoteRef); err != nil {
		return fmt.Errorf("the rotation is committed on the local branch %s (%s), but the push to %s %s failed, so nothing was rolled out: %w\n"+
			"if the branch moved on, run `git pull --rebase`, `git push` and `stackctl deploy`; if it is protected, rotate with --pull-request instead; `git reset --keep HEAD~1` drops the local commit",
			r.branch, sha, r.remote, strings.TrimPrefix(r.remoteRef, "refs/heads/"), err)
	}
	r.report.Printf("committed the rotation (%s) and pushed it to %s %s", sha, r.remote, strings.TrimPrefix(r.remoteRef, "refs/heads/"))
	return nil
}

// openPullRequest commits on a new branch, pushes it and opens a pull
// request against the branch the rotation started from.
func (r *gitRecorder) openPullRequest(ctx context.Context, gfs []gitFile) error {
	branch := r.newBranch()
	if _, err := runGit(ctx, r.top, "checkout", "-q", "-b", branch); err != nil {
		return fmt.Errorf("create branch %s, so nothing was rolled out: %w", branch, err)
	}
	sha, err := r.commit(ctx, gfs)
	if err != nil {
		return err
	}
	if _, err := runGit(ctx, r.top, "push", "-q", "-u", r.remote, branch); err != nil {
		return fmt.Errorf("the rotation is committed on the local branch %s (%s), but the push to %s failed, so nothing was rolled out: %w\npush it and open a pull request by hand", branch, sha, r.remote, err)
	}
	base := strings.TrimPrefix(r.remoteRef, "refs/heads/")
	pr, err := r.github.createPull(ctx, newPull{Title: r.message(), Head: branch, Base: base, Body: r.pullBody(gfs)})
	if err != nil {
		return fmt.Errorf("branch %s is pushed to %s, but the pull request could not be opened, and nothing was rolled out: %w\nopen a pull request from %s into %s by hand", branch, r.remote, err, branch, base)
	}
	r.report.Printf("opened pull request #%d (%s into %s): %s\nnothing was rolled out: merge the pull request, then deploy", pr.Number, branch, base, pr.HTMLURL)
	return nil
}

// A branch name is made of the secrets' names, so keep what a ref takes.
var refUnsafe = lazyRegexp(`[^A-Za-z0-9_-]+`)

func (r *gitRecorder) newBranch() string {
	name := strings.Trim(refUnsafe().ReplaceAllString(strings.Join(r.secrets, "-"), "-"), "-")
	if len(r.secrets) > 3 || name == "" {
		name = fmt.Sprintf("%d-secrets", len(r.secrets))
	}
	return "stackctl/rotate-" + name + "-" + r.now().UTC().Format("20060102T150405Z")
}

func (r *gitRecorder) pullBody(gfs []gitFile) string {
	paths := make([]string, len(gfs))
	for i, gf := range gfs {
		paths[i] = "`" + gf.path + "`"
	}
	return fmt.Sprintf("`stackctl rotate` wrote a new value for %s into %s (SOPS-encrypted: only its ciphertext and the SOPS metadata change).\n\n"+
		"Nothing was rolled out: merge this pull request, then deploy (`stackctl deploy`) to roll the new value out.\n",
		strings.Join(r.secrets, ", "), strings.Join(paths, ", "))
}

// runGit runs git in dir and returns its trimmed standard output; its
// error carries what git said on standard error (git prints no file
// content there, and the files hold ciphertext only).
func runGit(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", &gitError{command: gitCommand(args), err: err, stderr: strings.TrimSpace(errb.String())}
	}
	return strings.TrimSpace(out.String()), nil
}

// gitCommand names git's subcommand, skipping -c options.
func gitCommand(args []string) string {
	for i := 0; i < len(args); i++ {
		if args[i] == "-c" {
			i++
			continue
		}
		return args[i]
	}
	return ""
}

type gitError struct {
	command, stderr string
	err             error
}

func (e *gitError) Error() string {
	msg := fmt.Sprintf("git %s: %v", e.command, e.err)
	if e.stderr != "" {
		msg += "\n  " + strings.ReplaceAll(e.stderr, "\n", "\n  ")
	}
	return msg
}

func (e *gitError) Unwrap() error { return e.err }

// gitExitCode is git's exit code, or -1 when it did not run to an exit.
func gitExitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// relative shows a path relative to the working folder when it is below it.
func relative(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

// shellQuote quotes s for a command line a user copies.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"$`\\!*?;&|<>()[]{}#~,") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
