// Command genkey writes a development RSA signing key for the account
// service. It never overwrites: an existing file is kept and reported, so
// `make run` can call it every time.
//
//	go run ./services/kit/auth/cmd/genkey -out .dev/keys/jwt-signing.pem
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/progressive-overload/po/services/kit/auth"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fl := flag.NewFlagSet("genkey", flag.ContinueOnError)
	fl.SetOutput(stderr)
	out := fl.String("out", ".dev/keys/jwt-signing.pem", "PEM file to create (mode 0600)")
	bits := fl.Int("bits", 2048, "RSA key size in bits")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "genkey: unexpected arguments %q\n", fl.Args())
		return 2
	}
	err := auth.GenerateKeyFile(*out, *bits)
	switch {
	case errors.Is(err, fs.ErrExist):
		fmt.Fprintf(stderr, "genkey: %s exists, keeping it\n", *out)
	case err != nil:
		fmt.Fprintf(stderr, "genkey: %v\n", err)
		return 1
	default:
		fmt.Fprintf(stderr, "genkey: wrote %s\n", *out)
	}
	return 0
}
