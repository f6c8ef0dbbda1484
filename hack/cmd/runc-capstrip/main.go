// Command runc-capstrip is an OCI runtime for Docker on hosts whose capability
// bounding set is incomplete (see package hack/capstrip): it drops from the spec
// the capabilities the host lacks, then execs the real runc with the same
// arguments. hack/dockerengine registers it as the default runtime of an engine
// it starts itself, and only where privileged containers would fail.
//
// The real runc is $RUNC_CAPSTRIP_RUNC, else `runc` on PATH.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/progressive-overload/po/hack/capstrip"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "runc-capstrip:", err)
		os.Exit(1)
	}
}

func run() error {
	runc := os.Getenv("RUNC_CAPSTRIP_RUNC")
	if runc == "" {
		p, err := exec.LookPath("runc")
		if err != nil {
			return err
		}
		runc = p
	}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return err
	}
	mask, err := capstrip.Bounding(f)
	f.Close()
	if err != nil {
		return err
	}
	drop := map[string]bool{}
	for _, c := range capstrip.Missing(mask) {
		drop[c] = true
	}
	if len(drop) > 0 {
		cwd, err := os.Getwd()
		if err != nil {
			return err
		}
		for _, path := range capstrip.Targets(os.Args[1:], cwd) {
			if err := capstrip.FixFile(path, drop); err != nil {
				return err
			}
		}
	}
	return syscall.Exec(runc, append([]string{runc}, os.Args[1:]...), os.Environ())
}
