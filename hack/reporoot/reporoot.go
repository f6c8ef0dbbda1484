// Package reporoot finds the repository: hack's one way to do it, for its
// tests and tools run with go test or go run from a clone.
package reporoot

import (
	"path/filepath"
	"runtime"
)

// Dir is the repository root: two levels above this source file, where the
// compiler saw it (go test and go run keep that path; a -trimpath build does
// not, and no hack tool is built so).
func Dir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("reporoot: cannot locate source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}
