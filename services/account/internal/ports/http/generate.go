// Package httpport is the account service's HTTP port: Fiber handlers implementing
// the strict server interface generated from api/openapi.yaml.
package httpport

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2 -config oapi-codegen.yaml ../../../api/openapi.yaml
