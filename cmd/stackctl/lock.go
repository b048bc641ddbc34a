package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackctl/stackctl/rotate/engine"
)

// lockFlags are the flags of the commands that write to a stack.
type lockFlags struct {
	wait  time.Duration
	force bool
}

func (f *lockFlags) register(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&f.wait, "lock-wait", 5*time.Minute, "how long to wait while another stackctl holds the stack's lock (0 fails at once)")
	cmd.Flags().BoolVar(&f.force, "force-unlock", false, "remove the stack's lock first, whoever holds it (after a killed deploy)")
}

func (f *lockFlags) options(d *deps, command string) engine.LockOptions {
	return engine.LockOptions{Holder: holder(d, command), Wait: f.wait, Force: f.force}
}

// holder names this process for others who find the stack locked: the
// GitHub Actions run when there is one, else user@host and pid.
func holder(d *deps, command string) string {
	if run := d.getenv("GITHUB_RUN_ID"); run != "" && d.getenv("GITHUB_REPOSITORY") != "" {
		return fmt.Sprintf("stackctl %s in %s run %s (%s)", command, d.getenv("GITHUB_REPOSITORY"), run, d.getenv("GITHUB_WORKFLOW"))
	}
	host, _ := os.Hostname()
	user := d.getenv("USER")
	if user == "" {
		user = fmt.Sprintf("uid %d", os.Getuid())
	}
	return fmt.Sprintf("stackctl %s by %s@%s pid %d", command, user, host, os.Getpid())
}
