// Package http is the account service's HTTP port: Fiber handlers implementing
// the strict server interface generated from api/openapi.yaml.
package http

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2 -config oapi.yaml ../../../api/openapi.yaml
