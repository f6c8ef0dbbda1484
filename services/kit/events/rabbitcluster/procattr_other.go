//go:build !linux

package rabbitcluster

import "syscall"

// childAttr: only Linux can tie a child's life to its parent's; elsewhere
// t.Cleanup is what stops the nodes.
func childAttr() *syscall.SysProcAttr { return nil }
