package rabbitcluster

import "syscall"

// childAttr has the kernel kill a node when the test binary dies without
// running its cleanups (a panic, a -timeout, a kill): t.Cleanup covers every
// ordinary end. The VM is the child itself (RABBITMQ_ALLOW_INPUT), so the
// signal reaches the node and not a script in front of it.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
