// Package openapi checks requests against a service's contract
// (api/openapi.yaml) before its handlers run, so both services answer the
// same bad input with the same status and the same problem: 400 for a body
// that is not a JSON object, 415 for one that is not JSON, 422 naming every
// invalid field or parameter (body members by their JSON path, parameters by
// name). The generated strict handlers bind the body it validated
// (ValidatedBodyKey), so a body is decoded once.
package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	nethttp "net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/gofiber/fiber/v2"

	"github.com/progressive-overload/po/services/kit/problem"
)

// ValidatedBodyKey is the c.Locals key under which oapi-codegen's strict
// Fiber handlers look for a body that was already decoded and validated
// (validatedBodyLocalsKey in every api.gen.go).
const ValidatedBodyKey = "x-oapi-codegen-validated-body"

// NewRouter returns a kin-openapi router for spec (a service's embedded
// contract, from the generated GetSwagger), matching paths regardless of
// host. It changes spec's Servers.
func NewRouter(spec *openapi3.T, err error) (routers.Router, error) {
	if err != nil {
		return nil, fmt.Errorf("load embedded OpenAPI spec: %w", err)
	}
	spec.Servers = nil
	router, err := legacy.NewRouter(spec)
	if err != nil {
		return nil, fmt.Errorf("route OpenAPI spec: %w", err)
	}
	return router, nil
}

// RequestValidator checks each request for an operation of the spec against
// it (parameters and body) before the handler runs. Requests for paths the
// spec does not have pass through (Fiber answers 404/405).
func RequestValidator(router routers.Router) fiber.Handler {
	opts := &openapi3filter.Options{
		MultiError:          true,
		AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc, // done by the auth middleware
		KeepValidatedValue:  true,
		SkipSettingDefaults: true,
	}
	opts.WithCustomSchemaErrorFunc(func(err *openapi3.SchemaError) string { return err.Reason })
	return func(c *fiber.Ctx) error {
		req := &nethttp.Request{
			Method: c.Method(),
			URL:    &url.URL{Path: c.Path(), RawQuery: string(c.Request().URI().QueryString())},
			Header: nethttp.Header{},
		}
		route, pathParams, err := router.FindRoute(req)
		if err != nil {
			return c.Next()
		}
		body := c.Body()
		if op := route.Operation; op.RequestBody != nil && op.RequestBody.Value != nil {
			if p := checkJSONBody(c.Get(fiber.HeaderContentType), body); p != nil {
				return p
			}
			req.Header.Set("Content-Type", "application/json")
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		input := &openapi3filter.RequestValidationInput{
			Request: req, PathParams: pathParams, Route: route, Options: opts,
		}
		if err := openapi3filter.ValidateRequest(c.UserContext(), input); err != nil {
			return requestProblem(err)
		}
		if vb, ok := req.Body.(interface{ ValidatedValue() any }); ok {
			c.Locals(ValidatedBodyKey, vb.ValidatedValue())
		}
		return c.Next()
	}
}

// checkJSONBody answers what kin-openapi would report less clearly: a body
// that is missing, not JSON, or not an object.
func checkJSONBody(contentType string, body []byte) *problem.Problem {
	if len(bytes.TrimSpace(body)) == 0 {
		return problem.BadRequest("a JSON object body is required")
	}
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil || (mt != fiber.MIMEApplicationJSON && !strings.HasSuffix(mt, "+json")) {
			return problem.New(nethttp.StatusUnsupportedMediaType, "the body must be application/json")
		}
	}
	if !json.Valid(body) {
		return problem.BadRequest("the body is not valid JSON")
	}
	if bytes.TrimLeft(body, " \t\r\n")[0] != '{' {
		return problem.BadRequest("the body must be a JSON object")
	}
	return nil
}

// requestProblem turns kin-openapi's findings into one problem: 422 listing
// every field (body members by their JSON path, parameters by name).
func requestProblem(err error) error {
	var fields []problem.FieldError
	var walk func(error)
	walk = func(err error) {
		// Type switches, not errors.As: a RequestError unwraps to its
		// schema errors, and As would skip straight past it.
		if multi, ok := err.(openapi3.MultiError); ok {
			for _, e := range multi {
				walk(e)
			}
			return
		}
		re, ok := err.(*openapi3filter.RequestError)
		if !ok {
			fields = append(fields, problem.FieldError{Field: "request", Message: "is invalid"})
			return
		}
		name := "body"
		if re.Parameter != nil {
			name = re.Parameter.Name
		}
		if re.Err == nil {
			fields = append(fields, problem.FieldError{Field: name, Message: re.Reason})
			return
		}
		schemaErrors(re.Err, name, re.Parameter != nil, &fields)
	}
	walk(err)
	// One message per field: a bound can fail twice (exclusiveMinimum is
	// reported as both "more than" and "at least").
	slices.SortStableFunc(fields, func(a, b problem.FieldError) int { return strings.Compare(a.Field, b.Field) })
	fields = slices.CompactFunc(fields, func(a, b problem.FieldError) bool { return a.Field == b.Field })
	return problem.Validation(fields...)
}

func schemaErrors(err error, name string, isParam bool, out *[]problem.FieldError) {
	if multi, ok := err.(openapi3.MultiError); ok {
		for _, e := range multi {
			schemaErrors(e, name, isParam, out)
		}
		return
	}
	se, ok := err.(*openapi3.SchemaError)
	if !ok {
		var pe *openapi3filter.ParseError
		if errors.As(err, &pe) {
			*out = append(*out, problem.FieldError{Field: name, Message: "has the wrong type"})
			return
		}
		*out = append(*out, problem.FieldError{Field: name, Message: "is invalid"})
		return
	}
	field := name
	if ptr := se.JSONPointer(); len(ptr) > 0 {
		if isParam {
			field = name + "." + strings.Join(ptr, ".")
		} else {
			field = strings.Join(ptr, ".")
		}
	}
	msg := se.Reason
	switch se.SchemaField {
	case "required":
		msg = "is required"
	case "format":
		// The reason carries the parser's own words (Go's time layouts).
		msg = fmt.Sprintf("is not a valid %s", se.Schema.Format)
	}
	*out = append(*out, problem.FieldError{Field: field, Message: msg})
}
