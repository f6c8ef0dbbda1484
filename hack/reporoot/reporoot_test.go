package reporoot_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/progressive-overload/po/hack/reporoot"
)

func TestDirHoldsTheWorkspace(t *testing.T) {
	if _, err := os.Stat(filepath.Join(reporoot.Dir(), "go.work")); err != nil {
		t.Fatalf("%s is not the repository root: %v", reporoot.Dir(), err)
	}
}
