// Command devsecrets writes the local cluster's dev Secrets once (see package
// hack/devsecrets). The Tiltfile runs it on every load; it is a no-op when the
// file exists.
//
//	go run ./hack/cmd/devsecrets --out .dev/k8s/dev-secrets.yaml --namespace po
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/progressive-overload/po/hack/devsecrets"
)

func main() {
	out := flag.String("out", ".dev/k8s/dev-secrets.yaml", "file to write (kept if it exists)")
	ns := flag.String("namespace", "po", "namespace of the Secrets")
	flag.Parse()
	wrote, err := devsecrets.Ensure(*out, *ns)
	if err != nil {
		fmt.Fprintln(os.Stderr, "devsecrets:", err)
		os.Exit(1)
	}
	if wrote {
		fmt.Fprintf(os.Stderr, "devsecrets: wrote %s\n", *out)
	}
}
