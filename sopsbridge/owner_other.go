//go:build !unix

package sopsbridge

import "os"

// writable: on Windows the read-only attribute shows in the mode bits
// (os.Stat reports 0444), which replaceFile checks; access rights beyond
// it show when the write fails.
func writable(string) bool { return true }

// owner: no owner and group to keep where files have none (Windows).
func owner(os.FileInfo) (uid, gid int, ok bool) { return 0, 0, false }
