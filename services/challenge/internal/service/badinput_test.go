package service_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/progressive-overload/po/services/kit/testkit/apitest"
)

// Bad input gets a 4xx problem+json that names what is wrong, never a 5xx.
func TestBadInput(t *testing.T) {
	h := newHarness(t)
	const uid = 401
	tok := h.user(t, uid)
	c := h.createChallenge(t, tok)
	id := strconv.FormatInt(c.Id, 10)
	logged := h.logWorkout(t, tok, c.Id, 60)
	logID := strconv.FormatInt(logged.Id, 10)
	with := func(k string, v any) map[string]any {
		b := squatBody()
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
		return b
	}
	cases := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		fields []string // for 422: the fields named, in any order
	}{
		{"malformed json", "POST", "/challenges", `{"title":`, 400, nil},
		{"json array", "POST", "/challenges", `[1,2]`, 400, nil},
		{"wrong type", "POST", "/challenges", with("weeks", "eight"), 422, []string{"weeks"}},
		{"bad date", "POST", "/challenges", with("startDate", "2026-02-30"), 422, []string{"startDate"}},
		{"missing fields", "POST", "/challenges", `{}`, 422,
			[]string{"title", "exercise", "unit", "startValue", "increment", "incrementEvery", "sessionsPerWeek", "weeks"}},
		{"missing title", "POST", "/challenges", with("title", nil), 422, []string{"title"}},
		{"null title", "POST", "/challenges", `{"title":null,"exercise":"e","unit":"kg","startValue":1,"increment":0,"incrementEvery":1,"sessionsPerWeek":1,"weeks":1}`, 422, []string{"title"}},
		{"blank title", "POST", "/challenges", with("title", "   "), 422, []string{"title"}},
		{"long title", "POST", "/challenges", with("title", strings.Repeat("x", 121)), 422, []string{"title"}},
		{"unknown unit", "POST", "/challenges", with("unit", "stone"), 422, []string{"unit"}},
		// The contract's bounds are checked first, all of them at once; the
		// rules it cannot express (decimals per unit, the date range) then.
		{"several out of bounds", "POST", "/challenges", map[string]any{
			"title": "t", "exercise": "e", "unit": "reps", "startValue": 0.5, "increment": -1,
			"incrementEvery": 0, "sessionsPerWeek": 15, "weeks": 0, "startDate": "1999-12-31",
		}, 422, []string{"increment", "incrementEvery", "sessionsPerWeek", "weeks"}},
		{"several invalid", "POST", "/challenges", map[string]any{
			"title": "t", "exercise": "e", "unit": "reps", "startValue": 0.5, "increment": 1,
			"incrementEvery": 1, "sessionsPerWeek": 3, "weeks": 4, "startDate": "1999-12-31",
		}, 422, []string{"startValue", "startDate"}},
		{"huge number", "POST", "/challenges", with("startValue", 1e308), 422, []string{"startValue"}},
		{"log missing fields", "POST", "/challenges/" + id + "/logs", `{}`, 422, []string{"sets", "reps", "value"}},
		{"log invalid", "POST", "/challenges/" + id + "/logs", map[string]any{"sets": 0, "reps": 5, "value": -1}, 422, []string{"sets", "value"}},
		{"log in the future", "POST", "/challenges/" + id + "/logs", map[string]any{
			"performedAt": "2999-01-01T00:00:00Z", "sets": 1, "reps": 1, "value": 1,
		}, 422, []string{"performedAt"}},
		{"log before the plan", "POST", "/challenges/" + id + "/logs", map[string]any{
			"performedAt": "2026-01-04T23:59:59Z", "sets": 1, "reps": 1, "value": 1,
		}, 422, []string{"performedAt"}},
		{"log bad time", "POST", "/challenges/" + id + "/logs", `{"performedAt":"yesterday","sets":1,"reps":1,"value":1}`, 422, []string{"performedAt"}},
		{"log on missing challenge", "POST", "/challenges/999999/logs", map[string]any{"sets": 1, "reps": 1, "value": 1}, 404, nil},
		{"correction out of bounds", "PATCH", "/challenges/" + id + "/logs/" + logID, map[string]any{"sets": 0, "reps": 1001}, 422, []string{"sets", "reps"}},
		{"correction invalid", "PATCH", "/challenges/" + id + "/logs/" + logID, map[string]any{"value": 62.555, "performedAt": "1999-12-31T00:00:00Z"}, 422, []string{"value", "performedAt"}},
		{"correction before the plan", "PATCH", "/challenges/" + id + "/logs/" + logID, map[string]any{"performedAt": "2026-01-04T23:59:59Z"}, 422, []string{"performedAt"}},
		{"correction in the future", "PATCH", "/challenges/" + id + "/logs/" + logID, map[string]any{"performedAt": "2999-01-01T00:00:00Z"}, 422, []string{"performedAt"}},
		{"correction wrong type", "PATCH", "/challenges/" + id + "/logs/" + logID, `{"reps":"five","note":7}`, 422, []string{"reps", "note"}},
		{"correction not an object", "PATCH", "/challenges/" + id + "/logs/" + logID, `[1]`, 400, nil},
		{"correction bad log id", "PATCH", "/challenges/" + id + "/logs/x", map[string]any{"sets": 1}, 422, []string{"logId"}},
		{"correction of no log", "DELETE", "/challenges/" + id + "/logs/424242", nil, 404, nil},
		{"history bad cursor", "GET", "/challenges/" + id + "/history?cursor=bDE", nil, 422, []string{"cursor"}},
		{"history bad limit and cursor", "GET", "/challenges/" + id + "/history?limit=0&cursor=", nil, 422, []string{"limit", "cursor"}},
		{"history of no challenge", "GET", "/challenges/424242/history", nil, 404, nil},
		{"exercise history without exercise", "GET", "/challenges/history/" + strconv.Itoa(uid) + "?unit=kg", nil, 422, []string{"exercise"}},
		{"exercise history blank exercise", "GET", "/challenges/history/" + strconv.Itoa(uid) + "?unit=kg&exercise=%20", nil, 422, []string{"exercise"}},
		{"exercise history bad unit", "GET", "/challenges/history/" + strconv.Itoa(uid) + "?unit=stone&exercise=Squat", nil, 422, []string{"unit"}},
		{"records user not a number", "GET", "/challenges/records/me", nil, 422, []string{"userId"}},
		{"patch bad status", "PATCH", "/challenges/" + id, map[string]any{"status": "active"}, 422, []string{"status"}},
		{"patch blank title", "PATCH", "/challenges/" + id, map[string]any{"title": ""}, 422, []string{"title"}},
		{"id not a number", "GET", "/challenges/abc", nil, 422, []string{"id"}},
		{"id overflow", "GET", "/challenges/99999999999999999999", nil, 422, []string{"id"}},
		{"no such challenge", "GET", "/challenges/424242", nil, 404, nil},
		{"negative id", "GET", "/challenges/-1/progress", nil, 404, nil},
		{"user id not a number", "GET", "/challenges/logs/me", nil, 422, []string{"userId"}},
		{"limit zero", "GET", userLogsPath(uid) + "?limit=0", nil, 422, []string{"limit"}},
		{"limit too big", "GET", "/challenges?limit=101", nil, 422, []string{"limit"}},
		{"logs limit too big", "GET", userLogsPath(uid) + "?limit=101", nil, 422, []string{"limit"}},
		{"logs limit and a bad cursor", "GET", userLogsPath(uid) + "?limit=10&cursor=xyz", nil, 422, []string{"cursor"}},
		{"limit not a number", "GET", userLogsPath(uid) + "?limit=ten", nil, 422, []string{"limit"}},
		{"empty cursor", "GET", userLogsPath(uid) + "?cursor=", nil, 422, []string{"cursor"}},
		{"long cursor", "GET", "/challenges?cursor=" + strings.Repeat("A", 65), nil, 422, []string{"cursor"}},
		{"bad cursor", "GET", userLogsPath(uid) + "?cursor=xyz", nil, 422, []string{"cursor"}},
		{"challenge cursor on logs", "GET", userLogsPath(uid) + "?cursor=YzE", nil, 422, []string{"cursor"}},
		{"bad status filter", "GET", "/challenges?status=done", nil, 422, []string{"status"}},
		{"unknown route", "GET", "/challenges/1/nope", nil, 404, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.Do(t, tc.method, tc.path, tok, tc.body)
			if r.Status != tc.status {
				t.Fatalf("%d %s, want %d", r.Status, r.Body, tc.status)
			}
			r.Problem(t)
			if tc.fields != nil {
				got := r.Fields(t)
				slices.Sort(got)
				want := slices.Clone(tc.fields)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Fatalf("422 names %v, want %v (%s)", got, want, r.Body)
				}
			}
		})
	}
	t.Run("too large", func(t *testing.T) {
		// The server answers as soon as it reads the headers and closes the
		// connection without reading the body, so this talks raw HTTP/1.1.
		conn, err := net.Dial("tcp", strings.TrimPrefix(h.BaseURL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /challenges HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", tok, 2<<20)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		r := apitest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
		if r.Status != http.StatusRequestEntityTooLarge {
			t.Fatalf("%d %s, want 413", r.Status, body)
		}
		r.Problem(t)
	})

	// None of it changed anything.
	var list struct {
		Items []challengeJSON `json:"items"`
	}
	h.Do(t, "GET", "/challenges", tok, nil).Decode(t, &list)
	if len(list.Items) != 1 {
		t.Fatalf("bad input created challenges: %+v", list.Items)
	}
	var logs logList
	h.Do(t, "GET", "/challenges/"+id+"/logs", tok, nil).Decode(t, &logs)
	if len(logs.Items) != 1 || logs.Items[0] != logged {
		t.Fatalf("bad input created or changed logs: %+v", logs.Items)
	}
}
