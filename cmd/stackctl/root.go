package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/stackctl/stackctl/rotate"
)

// Exit codes, documented in README.md.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// deps are what commands take from the outside world, built once in main.
type deps struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// stderrTTY turns on the live progress view.
	stderrTTY bool
	getenv    func(string) string
	// engine connects to the Docker engine on first use; nil means the
	// docker CLI's resolution of --host, --context and the environment.
	engine func(context.Context) (rotate.Engine, error)
}

func newDeps() *deps {
	return &deps{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv,
		stderrTTY: term.IsTerminal(int(os.Stderr.Fd())) && os.Getenv("TERM") != "dumb"}
}

// usageError marks a failure of the command line or of its input that
// the user must fix before anything can run.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func newRootCmd(d *deps) *cobra.Command {
	root := &cobra.Command{
		Use:   "stackctl",
		Short: "Deploy Docker Swarm stacks whose secrets and configs change",
		Long: `stackctl deploys compose files to Docker Swarm like docker stack deploy, but
names every secret and config version by a keyed hash of its content, decrypts
SOPS files in memory, and rolls each changed service once.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(d.stdin)
	root.SetOut(d.stdout)
	root.SetErr(d.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	var ef engineFlags
	ef.register(root)
	if d.engine == nil {
		var (
			eng  rotate.Engine
			cerr error
			once sync.Once
		)
		d.engine = func(ctx context.Context) (rotate.Engine, error) {
			once.Do(func() { eng, cerr = connect(ctx, ef) })
			return eng, cerr
		}
	}
	root.AddCommand(newDeployCmd(d, nil), newPlanCmd(d, nil), newPruneCmd(d, nil), newRenderCmd(d, nil), newRotateCmd(d, nil), newVersionCmd(d))
	return root
}

func run(args []string, d *deps) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd(d)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(d.stderr, "error:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailure
}
