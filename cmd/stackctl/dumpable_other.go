//go:build !linux

package main

// noCoreDumps is Linux's prctl(PR_SET_DUMPABLE); elsewhere core dumps are
// the operating system's setting.
func noCoreDumps() error { return nil }
