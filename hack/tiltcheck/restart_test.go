// Package tiltcheck tests the Tilt helpers under tilt/ that can run without
// Tilt (the Tiltfile itself is evaluated by hack/clustertest with a real Tilt).
package tiltcheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/progressive-overload/po/hack/chartkit"
)

const fakeService = `#!/bin/sh
echo "%s start $*"
trap 'echo "%s stop"; exit %d' TERM
while :; do sleep 0.1; done
`

func write(t *testing.T, path, version string, code int) {
	t.Helper()
	body := strings.ReplaceAll(strings.ReplaceAll(fakeService, "%s", version), "%d", string(rune('0'+code)))
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(out.String(), want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %q in output:\n%s", want, out.String())
}

// restart.sh runs the binary, swaps in a synced build and restarts it when
// triggered, and passes SIGTERM on, exiting with the process's status.
func TestRestartWrapper(t *testing.T) {
	dir := t.TempDir()
	sync := filepath.Join(dir, "sync")
	if err := os.Mkdir(sync, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "svc")
	trigger := filepath.Join(dir, "restart")
	write(t, bin, "v1", 0)

	out := &syncBuffer{}
	cmd := exec.Command("sh", filepath.Join(chartkit.RepoRoot(), "tilt", "restart.sh"), bin, "serve")
	cmd.Env = append(os.Environ(), "PO_SYNC_DIR="+sync, "PO_RESTART_TRIGGER="+trigger)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFor(t, out, "v1 start serve")

	write(t, filepath.Join(sync, "svc"), "v2", 3)             // what live update's sync does
	if err := os.WriteFile(trigger, nil, 0o644); err != nil { // what its run step does
		t.Fatal(err)
	}
	waitFor(t, out, "v1 stop")
	waitFor(t, out, "v2 start serve")

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	waitFor(t, out, "v2 stop")
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 3 {
		t.Fatalf("exit %v, want the service's status 3", err)
	}
}

// A process that exits by itself ends the wrapper with its status (so a crash
// restarts the container instead of hiding).
func TestRestartWrapperPassesExit(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "svc")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 7\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", filepath.Join(chartkit.RepoRoot(), "tilt", "restart.sh"), bin, "migrate")
	cmd.Env = append(os.Environ(), "PO_SYNC_DIR="+filepath.Join(dir, "none"), "PO_RESTART_TRIGGER="+filepath.Join(dir, "t"))
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 7 {
		t.Fatalf("exit %v, want 7", err)
	}
}
