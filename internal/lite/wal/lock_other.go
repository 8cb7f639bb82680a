//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package wal

import "os"

// lockDir is a no-op where flock(2) is not available.
func lockDir(*os.File) error { return nil }
