// Package api holds the challenge service's OpenAPI contract. The HTTP port's
// server code is generated from it and the server publishes it at /api-docs.
package api

import _ "embed"

// Spec is openapi.yaml as written.
//
//go:embed openapi.yaml
var Spec []byte
