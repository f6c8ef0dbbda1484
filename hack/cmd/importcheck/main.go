// Command importcheck fails when an import runs against the layering of
// docs/architecture.md. Inside a service (services/<svc>):
//
//	domain → app → adapters, ports → service → cmd
//
// a package imports only packages of its own service from layers before its
// own (api, the embedded contract, is a leaf anyone may import), and never
// one of another service; adapters and ports do not import each other. The
// domain imports only the standard library. ent and services/kit import no
// service. Test files are held to the same rules as the package they test.
//
// Run from the repository root (make lint does):
//
//	go run ./hack/cmd/importcheck ./ent/... ./services/kit/... ./services/account/... ./services/challenge/...
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

const module = "github.com/progressive-overload/po/"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: importcheck <package patterns>")
		os.Exit(2)
	}
	args := append([]string{"list", "-e", "-f",
		`{{.ImportPath}} {{join .Imports ","}} {{join .TestImports ","}} {{join .XTestImports ","}}`}, os.Args[1:]...)
	cmd := exec.Command("go", args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "importcheck: go list:", err)
		os.Exit(2)
	}
	var bad []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), " ")
		pkg := f[0]
		seen := map[string]bool{}
		for _, list := range f[1:] {
			for _, imp := range strings.Split(list, ",") {
				if imp == "" || seen[imp] {
					continue
				}
				seen[imp] = true
				if msg := check(pkg, imp); msg != "" {
					bad = append(bad, fmt.Sprintf("%s imports %s: %s", pkg, imp, msg))
				}
			}
		}
	}
	if len(bad) > 0 {
		for _, b := range bad {
			fmt.Println(b)
		}
		fmt.Println("imports must run domain → app → adapters, ports → service → cmd (docs/architecture.md)")
		os.Exit(1)
	}
}

// layers ranks the directories of a service; api is a leaf below them all.
var layers = map[string]int{
	"api":               0,
	"internal/domain":   1,
	"internal/app":      2,
	"internal/adapters": 3,
	"internal/ports":    3,
	"internal/service":  4,
	"cmd":               5,
}

// where splits a package path of this repository into its service ("" for
// none) and layer ("" when it is not a service package), e.g.
// services/challenge/internal/ports/http → "challenge", "internal/ports".
func where(pkg string) (svc, layer string) {
	rel, ok := strings.CutPrefix(pkg, module+"services/")
	if !ok {
		return "", ""
	}
	svc, rest, _ := strings.Cut(rel, "/")
	if svc == "kit" {
		return "", ""
	}
	rest = strings.TrimSuffix(rest, "_test")
	for l := range layers {
		if rest == l || strings.HasPrefix(rest, l+"/") {
			return svc, l
		}
	}
	return svc, rest
}

// check returns why pkg may not import imp, or "" when it may.
func check(pkg, imp string) string {
	pkg = strings.TrimSuffix(pkg, ".test")
	if i := strings.Index(pkg, " ["); i >= 0 { // "p [p.test]" variants
		pkg = pkg[:i]
	}
	pkg = strings.TrimSuffix(pkg, "_test")
	impSvc, impLayer := where(imp)
	if impSvc != "" && impLayer == "" && strings.HasPrefix(imp, module) {
		impLayer = "?"
	}
	switch {
	case strings.HasPrefix(pkg, module+"ent"), strings.HasPrefix(pkg, module+"services/kit"):
		if impSvc != "" {
			return "ent and services/kit never import a service"
		}
		return ""
	}
	svc, layer := where(pkg)
	if svc == "" {
		return ""
	}
	rank, known := layers[layer]
	if !known {
		return fmt.Sprintf("package outside the service layout (%s)", strings.Join(keys(), ", "))
	}
	if layer == "internal/domain" && !isStd(imp) && impSvc != svc {
		return "the domain imports only the standard library"
	}
	if impSvc == "" {
		return ""
	}
	if impSvc != svc {
		return "a service never imports another service"
	}
	if impLayer == layer {
		return ""
	}
	impRank, known := layers[impLayer]
	if !known {
		return "imports a package outside the service layout"
	}
	if impRank >= rank {
		return fmt.Sprintf("%s may not import %s", layer, impLayer)
	}
	return ""
}

func isStd(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return !strings.Contains(first, ".")
}

func keys() []string {
	return []string{"api", "internal/domain", "internal/app", "internal/adapters", "internal/ports", "internal/service", "cmd"}
}
