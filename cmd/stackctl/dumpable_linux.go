package main

import "golang.org/x/sys/unix"

// noCoreDumps makes the process non-dumpable: no core dump, and no ptrace
// or /proc/PID/mem reading by other processes of the same user, while it
// holds decrypted values (prctl(2), PR_SET_DUMPABLE).
func noCoreDumps() error {
	return unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
}
