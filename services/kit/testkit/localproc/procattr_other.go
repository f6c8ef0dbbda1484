//go:build !linux

package localproc

import "syscall"

// DieWithParent: only Linux can tie a child's life to its parent's; elsewhere
// the caller's cleanups are what stop it.
func DieWithParent() *syscall.SysProcAttr { return nil }
