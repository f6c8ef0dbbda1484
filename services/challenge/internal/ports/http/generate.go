// Package httpport is the challenge service's HTTP port: the strict-server
// implementation of api/openapi.yaml (api.gen.go is generated from it) over
// the application's use cases.
package httpport

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2 -config oapi-codegen.yaml ../../../api/openapi.yaml
