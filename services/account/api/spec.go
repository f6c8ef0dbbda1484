// Package api holds the account service's HTTP contract, api/openapi.yaml. The
// server types in internal/ports/http are generated from it, the binary serves
// it at /api-docs/openapi.yaml, and the component tests check every response
// against it.
package api

import _ "embed"

// Spec is openapi.yaml as written.
//
//go:embed openapi.yaml
var Spec []byte
