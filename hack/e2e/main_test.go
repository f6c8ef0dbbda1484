package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/progressive-overload/po/hack/chartkit"
)

// bin holds the binaries TestMain builds once for every test: account,
// challenge and genkey.
var bin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "po-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := build(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building the binaries:", err)
		return 1
	}
	bin = dir
	return m.Run()
}

// build compiles the services (without -race: the services' own tests cover
// that; here they are black boxes) from the workspace root.
func build(dir string) error {
	root := chartkit.RepoRoot()
	goBin, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", dir+string(filepath.Separator),
		"./services/account/cmd/account", "./services/challenge/cmd/challenge", "./services/kit/auth/cmd/genkey")
	cmd.Dir = root
	// The workspace, whatever the caller's setting: the services' modules
	// are siblings of this one.
	cmd.Env = append(os.Environ(), "GOWORK="+filepath.Join(root, "go.work"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w\n%s", err, out)
	}
	return nil
}
