//go:build unix

package sopsbridge

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// writable reports whether this process may write path: access(2) counts
// root, groups and ACLs, which the mode bits alone do not.
func writable(path string) bool { return unix.Access(path, unix.W_OK) == nil }

// owner is the file's owner and group, which a replaced file keeps.
func owner(info os.FileInfo) (uid, gid int, ok bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), int(st.Gid), true
}
