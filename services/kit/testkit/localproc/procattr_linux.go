package localproc

import "syscall"

// DieWithParent has the kernel kill a child when the process that started it
// dies without stopping it (a panic, a -timeout, a kill): cleanups cover every
// ordinary end. The signal goes to the child itself, so it must be the server
// and not a script in front of it.
func DieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
