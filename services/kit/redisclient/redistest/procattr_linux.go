package redistest

import "syscall"

// childAttr has the kernel kill a server when the test binary dies without
// running its cleanups (a panic, a -timeout, a kill): t.Cleanup and
// StopSharedAtExit cover every ordinary end.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
