package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// EnsureDebianPackage returns the path of bin, installing Debian's package
// pkg first when bin is missing and the tool runs as root on a Debian-like
// system (the way the project gets haproxy for make chaos and wrk for make
// bench: nothing beyond Debian's archive). sbinPath is where the package
// puts bin when that is not on PATH (haproxy lives in /usr/sbin).
func EnsureDebianPackage(ctx context.Context, pkg, bin, sbinPath string, logf func(string, ...any)) (string, error) {
	if p, err := exec.LookPath(bin); err == nil {
		return p, nil
	}
	if fileExists(sbinPath) {
		return sbinPath, nil
	}
	if os.Geteuid() != 0 || !fileExists("/usr/bin/apt-get") {
		return "", fmt.Errorf("%s is not installed: apt-get install %s (Debian's package) and run again", bin, pkg)
	}
	logf("installing Debian's %s (apt-get install %s)", pkg, pkg)
	env := []string{"DEBIAN_FRONTEND=noninteractive"}
	install := []string{"install", "-y", "--no-install-recommends", pkg}
	if err := RunCmd(ctx, "/", env, "apt-get", install...); err != nil {
		// A fresh machine may not have the package lists yet.
		if err2 := RunCmd(ctx, "/", env, "apt-get", "update"); err2 != nil {
			return "", errors.Join(err, err2)
		}
		if err := RunCmd(ctx, "/", env, "apt-get", install...); err != nil {
			return "", err
		}
	}
	return sbinPath, nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
