//go:build cluster

package clustertest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/progressive-overload/po/hack/chartkit"
	"github.com/progressive-overload/po/hack/dockercheck"
)

// The images' build stage, without Docker: lay out exactly the files the
// Dockerfile COPYs from the .dockerignore'd context and run its `go build`
// (module mode, no workspace: the sibling modules come through replace
// directives). Catches a .dockerignore that drops a needed or embedded file and
// a module that only builds inside go.work.
func TestImageBuildStage(t *testing.T) {
	root := chartkit.RepoRoot()
	ctx, err := dockercheck.Context(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"account", "challenge"} {
		t.Run(svc, func(t *testing.T) {
			dir := t.TempDir()
			if err := dockercheck.Materialize(root, dir, ctx, "services/"+svc, "services/kit", "ent"); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w -X main.version=test",
				"-o", filepath.Join(dir, "out", svc), "./cmd/"+svc)
			cmd.Dir = filepath.Join(dir, "services", svc)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=readonly", "GOOS=linux")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go build in the image's context: %v\n%s", err, out)
			}
			if fi, err := os.Stat(filepath.Join(dir, "out", svc)); err != nil || fi.Size() == 0 {
				t.Fatalf("no binary: %v", err)
			}
		})
	}
}
