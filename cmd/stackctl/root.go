package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/stackctl/stackctl/rotate/engine"
)

// deps are what commands take from the outside world, built once in main.
type deps struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// stderrTTY turns on the live progress view.
	stderrTTY bool
	getenv    func(string) string
	// exe is how stackctl was started (argv[0]): as docker-stackctl, run
	// by the docker CLI, it is a docker CLI plugin (plugin.go).
	exe string
	// engine connects to the Docker engine on first use; nil means the
	// docker CLI's resolution of --host, --context and the environment.
	engine func(context.Context) (engine.Engine, error)
}

func newDeps() *deps {
	return &deps{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, exe: os.Args[0],
		stderrTTY: term.IsTerminal(int(os.Stderr.Fd())) && os.Getenv("TERM") != "dumb"}
}

func newRootCmd(d *deps) *cobra.Command { return newRootCmdWith(d, &engineFlags{}) }

// newRootCmdWith is the stackctl command, whose engine is chosen by ef
// (which the docker CLI's global flags also fill in plugin mode).
func newRootCmdWith(d *deps, ef *engineFlags) *cobra.Command {
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
	ef.register(root)
	if d.engine == nil {
		var (
			eng  engine.Engine
			cerr error
			once sync.Once
		)
		d.engine = func(ctx context.Context) (engine.Engine, error) {
			once.Do(func() { eng, cerr = connect(ctx, *ef, d.getenv) })
			return eng, cerr
		}
	}
	root.AddCommand(newDeployCmd(d, nil), newPlanCmd(d, nil), newPruneCmd(d, nil), newRenderCmd(d, nil), newRotateCmd(d, nil), newStatusCmd(d, nil), newVersionCmd(d))
	return root
}

func run(args []string, d *deps) int {
	if err := noCoreDumps(); err != nil {
		fmt.Fprintf(d.stderr, "error: cannot turn core dumps off (prctl PR_SET_DUMPABLE): %v\n", err)
		return exitFailure
	}
	// The first SIGINT or SIGTERM cancels ctx: a read in progress stops, a
	// rollout stops being waited for, the lock is released. A second one
	// ends the process at once, whatever it was blocked in.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		if _, ok := <-sigs; !ok {
			return
		}
		cancel()
		if _, ok := <-sigs; ok {
			fmt.Fprintln(d.stderr, "error: interrupted twice: stopping now")
			os.Exit(exitFailure)
		}
	}()
	var ef engineFlags
	root := newRootCmdWith(d, &ef)
	top := root
	if pluginMode(d.exe, args, d.getenv) {
		top = newPluginCmd(root, &ef)
		defer watchPluginSocket(d.getenv(envPluginSocket), cancel)()
	}
	top.SetArgs(args)
	// cobra checks the command and its arguments before PersistentPreRun:
	// an error before it is a usage error.
	var started *cobra.Command
	top.PersistentPreRun = func(cmd *cobra.Command, _ []string) { started = cmd }
	root.PersistentPreRun = top.PersistentPreRun
	err := top.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ue usageError
	if started == nil && !errors.As(err, &ue) {
		err = usageError{commandLineError(top, args, err)}
	}
	fmt.Fprintln(d.stderr, "error:", err)
	return exitCode(err, ctx.Err() != nil)
}

// commandLineError puts cobra's errors about commands and arguments on one
// line, with where to look.
func commandLineError(root *cobra.Command, args []string, err error) error {
	msg, suggestions, found := strings.Cut(err.Error(), "\n\nDid you mean this?\n")
	if found {
		return fmt.Errorf("%s: did you mean %s?", msg, strings.Join(strings.Fields(suggestions), " or "))
	}
	help := root.Name() + " --help"
	if cmd, _, ferr := root.Find(args); ferr == nil && cmd != root {
		help = cmd.CommandPath() + " --help"
	}
	return fmt.Errorf("%s: see %s", strings.Join(strings.Fields(msg), " "), help)
}
