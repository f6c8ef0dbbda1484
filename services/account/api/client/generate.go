// Package client is the account service's HTTP client, generated from its
// contract (api/openapi.yaml): requests and responses in the contract's types.
package client

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2 -config oapi-codegen.yaml ../openapi.yaml
