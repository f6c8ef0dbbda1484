package openapi_test

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gofiber/fiber/v2"

	"github.com/progressive-overload/po/services/kit/openapi"
	"github.com/progressive-overload/po/services/kit/problem"
)

const spec = `
openapi: 3.0.3
info: {title: t, version: "1"}
servers: [{url: /}]
paths:
  /things:
    get:
      parameters:
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 100}}
        - {name: cursor, in: query, schema: {type: string, minLength: 1, maxLength: 64}}
      responses: {'200': {description: ok}}
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [name, count]
              properties:
                name: {type: string, minLength: 1}
                count: {type: integer, exclusiveMinimum: true, minimum: 0}
                day: {type: string, format: date}
      responses: {'201': {description: created}}
  /things/{id}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer, format: int64}}
      responses: {'200': {description: ok}}
`

func newApp(t *testing.T) *fiber.App {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	router, err := openapi.NewRouter(doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		p, ok := err.(*problem.Problem)
		if !ok {
			return c.Status(500).SendString(err.Error())
		}
		c.Status(p.Status)
		return c.JSON(p)
	}})
	app.Use(openapi.RequestValidator(router))
	ok := func(c *fiber.Ctx) error {
		if v := c.Locals(openapi.ValidatedBodyKey); c.Method() == "POST" && v == nil {
			return c.Status(500).SendString("no validated body")
		}
		return c.SendString("ok")
	}
	app.Get("/things", ok)
	app.Post("/things", ok)
	app.Get("/things/:id", ok)
	app.Get("/elsewhere", ok)
	return app
}

func TestRequestValidator(t *testing.T) {
	app := newApp(t)
	cases := []struct {
		method, path, ctype, body string
		status                    int
		fields                    []string
	}{
		{"GET", "/things?limit=10&cursor=abc", "", "", 200, nil},
		{"GET", "/things?limit=abc", "", "", 422, []string{"limit"}},
		{"GET", "/things?limit=0&cursor=", "", "", 422, []string{"cursor", "limit"}},
		{"GET", "/things?cursor=" + strings.Repeat("A", 65), "", "", 422, []string{"cursor"}},
		{"GET", "/things/abc", "", "", 422, []string{"id"}},
		{"GET", "/things/12", "", "", 200, nil},
		{"GET", "/elsewhere?limit=abc", "", "", 200, nil}, // not in the spec: passes through
		{"POST", "/things", "application/json", `{"name":"a","count":1,"day":"2026-02-28"}`, 200, nil},
		{"POST", "/things", "application/json", `{}`, 422, []string{"count", "name"}},
		{"POST", "/things", "application/json", `{"name":"a","count":0}`, 422, []string{"count"}}, // two bounds fail, one entry
		{"POST", "/things", "application/json", `{"name":"a","count":"x"}`, 422, []string{"count"}},
		{"POST", "/things", "application/json", `{"name":"a","count":1,"day":"2026-02-30"}`, 422, []string{"day"}},
		{"POST", "/things", "application/json", `[1]`, 400, nil},
		{"POST", "/things", "application/json", `{"name":`, 400, nil},
		{"POST", "/things", "application/json", ``, 400, nil},
		{"POST", "/things", "text/plain", `{"name":"a","count":1}`, 415, nil},
	}
	for _, c := range cases {
		req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != c.status {
			t.Errorf("%s %s %s: %d %s, want %d", c.method, c.path, c.body, resp.StatusCode, body, c.status)
			continue
		}
		if c.fields == nil {
			continue
		}
		var p problem.Problem
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		var got []string
		for _, f := range p.Errors {
			got = append(got, f.Field)
			if strings.Contains(f.Message, "parsing time") {
				t.Errorf("%s: message carries Go's parser text: %q", c.path, f.Message)
			}
		}
		if !slices.Equal(got, c.fields) {
			t.Errorf("%s %s %s: fields %v, want %v (%s)", c.method, c.path, c.body, got, c.fields, body)
		}
	}
}
