package service_test

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"unicode/utf8"
)

// FuzzRequestBodies sends arbitrary bodies to every operation that takes one.
// Whatever the body, the answer is never a 5xx and always matches the spec
// (h.request checks both).
func FuzzRequestBodies(f *testing.F) {
	h := newHarness(f)
	u := h.signup(f, "fuzz")
	userTok := h.tokens(f, u).AccessToken
	adminTok := h.adminTokens(f).AccessToken
	target := h.signup(f, "target")
	ops := []struct{ method, path, token string }{
		{"POST", "/auth/signup", ""},
		{"POST", "/auth/login", ""},
		{"POST", "/auth/refresh", ""},
		{"POST", "/auth/logout", ""},
		{"PATCH", "/users/me", userTok},
		{"PATCH", "/users/" + strconv.FormatInt(target.ID, 10) + "/status", adminTok},
	}
	for _, seed := range []string{
		``, `{}`, `[]`, `null`, `"x"`, `1`, `{"a":1}`, `{`, `}`, `{"email":`, "\x00", "\xff\xfe",
		`{"email":"a@b.c","password":"12345678","displayName":"x"}`,
		`{"email":"A@B.C ","password":"        ","displayName":" "}`,
		`{"email":"a@b.c","password":"x"}`,
		`{"email":["a"],"password":{"x":1}}`,
		`{"email":"\u0000@x.y","password":"\ud800abcdefgh","displayName":"\u202e"}`,
		`{"refreshToken":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`,
		`{"refreshToken":123}`, `{"refreshToken":""}`,
		`{"displayName":"new name"}`, `{"password":"new password","currentPassword":"nope"}`,
		`{"password":"new password"}`, `{"displayName":null}`,
		`{"timeZone":"Europe/Berlin"}`, `{"timeZone":"Local"}`, `{"timeZone":""}`, `{"timeZone":"../../etc/passwd"}`,
		`{"timeZone":"europe/berlin"}`, `{"timeZone":7}`, `{"timeZone":"UTC","displayName":"z"}`,
		`{"email":"tz@b.c","password":"12345678","displayName":"x","timeZone":"Pacific/Chatham"}`,
		`{"email":"tz@b.c","password":"12345678","displayName":"x","timeZone":"Mars/Base"}`,
		`{"status":"suspended"}`, `{"status":"active"}`, `{"status":"deleted"}`, `{"status":1}`,
		`{"email":"a@b.c","email":"b@c.d","password":"12345678","displayName":"dup"}`,
		`{"EMAIL":"up@b.c","PASSWORD":"12345678","DISPLAYNAME":"caps"}`,
		`{"email":"a@b.c","password":"12345678","displayName":"x"} trailing`,
		`{"a":` + string(make([]byte, 0)) + `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
		`{"email":"` + string(make([]byte, 300)) + `"}`,
	} {
		for op := range ops {
			f.Add(uint8(op), []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		o := ops[int(op)%len(ops)]
		h.Do(t, o.method, o.path, o.token, body)
	})
}

// FuzzQueryAndPath sends arbitrary page parameters and user ids.
func FuzzQueryAndPath(f *testing.F) {
	h := newHarness(f)
	adminTok := h.adminTokens(f).AccessToken
	for _, seed := range [][3]string{
		{"", "", "1"}, {"20", "", "me"}, {"0", "x", "0"}, {"101", "MQ", "-1"}, {"abc", "!!", "abc"},
		{"1e3", "MA", "9223372036854775808"}, {" 5", "AAAA", "1.5"}, {"-0", "%%", "%00"}, {"5", "MTIz", "\u00e9"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, limit, cursor, id string) {
		if !utf8.ValidString(id) {
			return // not a path a client can send as text
		}
		q := url.Values{}
		if limit != "" {
			q.Set("limit", limit)
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		r := h.Do(t, "GET", "/users?"+q.Encode(), adminTok, nil)
		if r.Status != http.StatusOK && r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("GET /users?%s: %s", q.Encode(), r)
		}
		r = h.Do(t, "GET", "/users/"+url.PathEscape(id), adminTok, nil)
		switch r.Status {
		case http.StatusOK, http.StatusNotFound, http.StatusUnprocessableEntity:
		default:
			t.Fatalf("GET /users/%s: %s", url.PathEscape(id), r)
		}
	})
}
