package chartkit

import (
	"fmt"
	"os"
	"strings"

	"helm.sh/helm/v3/pkg/strvals"
	k8syaml "sigs.k8s.io/yaml"
)

// ValuesFile reads a values file (like `helm -f`).
func ValuesFile(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	if err := k8syaml.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// Set applies `helm --set` style assignments, e.g. "mysql.create=false", on top
// of base (which is not modified).
func Set(base map[string]any, assignments ...string) (map[string]any, error) {
	out := deepCopy(base)
	for _, a := range assignments {
		if err := strvals.ParseInto(a, out); err != nil {
			return nil, fmt.Errorf("--set %s: %w", a, err)
		}
	}
	return out, nil
}

// MustSet is Set for fixed test tables.
func MustSet(base map[string]any, assignments ...string) map[string]any {
	out, err := Set(base, assignments...)
	if err != nil {
		panic(err)
	}
	return out
}

// Merge merges maps left to right like several `-f` files (later wins; maps merge
// recursively, everything else is replaced).
func Merge(maps ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range maps {
		mergeInto(out, deepCopy(m))
	}
	return out
}

func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeInto(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// Path reads a dotted path ("account.port") from values.
func Path(vals map[string]any, path string) (any, bool) {
	var cur any = vals
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = m[p]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}
