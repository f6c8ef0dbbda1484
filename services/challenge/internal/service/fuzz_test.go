package service_test

import (
	"net/url"
	"strconv"
	"testing"

	"github.com/progressive-overload/po/services/kit/testkit/apitest"
)

// The request decoders (JSON bodies, path and query parameters) never answer
// 5xx, whatever the input: a 2xx or a 4xx problem+json, and every answer
// matches api/openapi.yaml. `go test` runs the seeds; `go test -fuzz` explores.

func checkFuzzResponse(t *testing.T, r apitest.Response, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if r.Status >= 500 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	if r.Status >= 400 {
		r.Problem(t)
	}
}

func FuzzCreateChallengeBody(f *testing.F) {
	for _, seed := range []string{
		`{"title":"Squat","exercise":"Squat","unit":"kg","startValue":60,"increment":2.5,"incrementEvery":1,"sessionsPerWeek":3,"weeks":8}`,
		`{"title":"Plank","exercise":"Plank","unit":"seconds","startValue":30,"increment":5,"incrementEvery":2,"sessionsPerWeek":4,"weeks":6,"startDate":"2026-03-01"}`,
		`{}`, `[]`, `null`, `"x"`, `{"title":null}`, `{"weeks":1e400}`, `{"weeks":-0}`, `{"startValue":"NaN"}`,
		`{"startDate":"0000-00-00"}`, `{"unit":"KG"}`, `{"title":"\u0000"}`, `{"title":"` + "\xff\xfe" + `"}`,
		`{"incrementEvery":9223372036854775808}`, `{"title":"a","title":"b"}`, ``, `{`,
		`{"title":"5x5","exercise":"Squat","unit":"kg","startValue":60,"increment":2.5,"incrementEvery":1,"sessionsPerWeek":3,"weeks":12,"progression":{"type":"linear","deloadAfter":3,"deloadPercent":10}}`,
		`{"title":"Curl","exercise":"Curl","unit":"kg","startValue":12.5,"increment":2.5,"incrementEvery":1,"sessionsPerWeek":3,"weeks":8,"progression":{"type":"double","minReps":8,"maxReps":12}}`,
		`{"title":"Run","exercise":"Run","unit":"meters","startValue":5000,"increment":250,"incrementEvery":1,"sessionsPerWeek":3,"weeks":8,"progression":{"type":"double","minReps":12,"maxReps":8,"deloadPercent":0}}`,
		`{"progression":null}`, `{"progression":{"type":"fixed","deloadAfter":-1}}`, `{"progression":{"type":"linear","deloadAfter":1e400}}`,
	} {
		f.Add([]byte(seed))
	}
	h := newHarness(f)
	tok := h.user(f, 501)
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := h.Try("POST", "/challenges", tok, body)
		checkFuzzResponse(t, r, err)
	})
}

func FuzzCreateWorkoutLogBody(f *testing.F) {
	for _, seed := range []string{
		`{"sets":5,"reps":5,"value":60}`,
		`{"performedAt":"2026-01-06T07:30:00Z","sets":3,"reps":8,"value":62.5,"note":"felt good"}`,
		`{"performedAt":"2026-01-06T07:30:00+14:00","sets":1,"reps":1,"value":0.01}`,
		`{}`, `null`, `{"sets":1.5}`, `{"value":1e309}`, `{"performedAt":"9999-12-31T23:59:59Z"}`,
		`{"performedAt":"0001-01-01T00:00:00Z","sets":1,"reps":1,"value":1}`, `{"note":"` + "\x00" + `"}`,
	} {
		f.Add([]byte(seed))
	}
	h := newHarness(f)
	tok := h.user(f, 502)
	c := h.createChallenge(f, tok)
	path := "/challenges/" + strconv.FormatInt(c.Id, 10) + "/logs"
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := h.Try("POST", path, tok, body)
		checkFuzzResponse(t, r, err)
	})
}

func FuzzListParameters(f *testing.F) {
	for _, seed := range [][3]string{
		{"", "", ""}, {"20", "", "pending"}, {"0", "x", "done"}, {"-1", "bDE3Njc2MjQwMDAwMDAwMDAuMQ", ""},
		{"99999999999", "YzE", "active"}, {"1", "====", ""}, {"ten", "%zz", "%00"}, {"", "bDAuMA", ""},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	h := newHarness(f)
	tok := h.user(f, 503)
	c := h.createChallenge(f, tok)
	h.logWorkout(f, tok, c.Id, 60)
	f.Fuzz(func(t *testing.T, limit, cursor, status string) {
		q := url.Values{}
		for k, v := range map[string]string{"limit": limit, "cursor": cursor, "status": status} {
			if v != "" {
				q.Set(k, v)
			}
		}
		for _, path := range []string{
			userLogsPath(503) + "?" + q.Encode(),
			"/challenges/" + strconv.FormatInt(c.Id, 10) + "/logs?" + q.Encode(),
			"/challenges?" + q.Encode(),
		} {
			r, err := h.Try("GET", path, tok, nil)
			checkFuzzResponse(t, r, err)
		}
		// Path parameters.
		r, err := h.Try("GET", "/challenges/"+url.PathEscape(limit)+"/progress", tok, nil)
		checkFuzzResponse(t, r, err)
		r, err = h.Try("GET", "/challenges/logs/"+url.PathEscape(cursor), tok, nil)
		checkFuzzResponse(t, r, err)
	})
}

func FuzzUpdateWorkoutLogBody(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"value":62.5}`, `{"note":""}`, `{"performedAt":"2026-01-06T07:30:00Z","sets":3,"reps":8,"value":62.5,"note":"fixed"}`,
		`{"value":625e-1}`, `{"value":-0}`, `{"value":0.001}`, `{"reps":1e3}`, `{"sets":null}`, `{"performedAt":"2026-01-04T23:59:59.999999Z"}`,
		`{"performedAt":"9999-12-31T23:59:59Z"}`, `{"note":"` + "\x00" + `"}`, `[]`, `null`, ``, `{"value":"62.5"}`, `{"sets":1,"sets":0}`,
	} {
		f.Add([]byte(seed))
	}
	h := newHarness(f)
	tok := h.user(f, 504)
	c := h.createChallenge(f, tok)
	l := h.logWorkout(f, tok, c.Id, 60)
	path := logPath(c.Id, l.Id)
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := h.Try("PATCH", path, tok, body)
		checkFuzzResponse(t, r, err)
	})
}

func FuzzHistoryParameters(f *testing.F) {
	for _, seed := range [][4]string{
		{"Back squat", "kg", "", ""}, {"back SQUAT", "lb", "2", "dzIwNDU4"}, {" ", "kg", "0", ""}, {"", "", "", "dzA"},
		{"{}", "reps", "101", "bDE3Njc2MjQwMDAwMDAwMDAuMQ"}, {"%00", "KG", "-1", "===="}, {"é\u0000", "meters", "ten", "YzE"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	h := newHarness(f)
	tok := h.user(f, 505)
	c := h.createChallenge(f, tok)
	h.logWorkout(f, tok, c.Id, 60)
	f.Fuzz(func(t *testing.T, exercise, unit, limit, cursor string) {
		q := url.Values{}
		for k, v := range map[string]string{"exercise": exercise, "unit": unit, "limit": limit, "cursor": cursor} {
			if v != "" {
				q.Set(k, v)
			}
		}
		for _, path := range []string{
			"/challenges/history/505?" + q.Encode(),
			"/challenges/" + strconv.FormatInt(c.Id, 10) + "/history?" + q.Encode(),
			"/challenges/records/" + url.PathEscape(limit),
			"/challenges/" + url.PathEscape(cursor) + "/history",
		} {
			r, err := h.Try("GET", path, tok, nil)
			checkFuzzResponse(t, r, err)
		}
	})
}

func FuzzJoinGroupBody(f *testing.F) {
	for _, seed := range []string{
		`{"code":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`, `{"code":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB"}`,
		`{"code":""}`, `{"code":null}`, `{"code":43}`, `{}`, `[]`, `null`, ``, `{"code":"` + "\x00" + `"}`,
		`{"code":"AAAAAAAAAAAAAAAAAAAAA\nAAAAAAAAAAAAAAAAAAAAA"}`, `{"code":"a","code":"b"}`,
	} {
		f.Add([]byte(seed))
	}
	h := newHarness(f)
	tok := h.user(f, 506)
	owner := h.user(f, 507)
	g := h.createGroup(f, owner)
	f.Add([]byte(`{"code":"` + h.invite(f, owner, g.Id, nil).Code + `"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := h.Try("POST", "/challenges/groups/join", tok, body)
		checkFuzzResponse(t, r, err)
	})
}

func FuzzCreateInviteBody(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"maxParticipants":2}`, `{"expiresAt":"2999-01-01T00:00:00Z"}`, `{"expiresAt":"2020-01-01T00:00:00Z"}`,
		`{"maxParticipants":1e400}`, `{"maxParticipants":-0}`, `{"maxParticipants":2.5}`, `{"expiresAt":"tomorrow"}`,
		`{"expiresAt":null,"maxParticipants":null}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(seed))
	}
	h := newHarness(f)
	tok := h.user(f, 508)
	g := h.createGroup(f, tok)
	path := groupPath(g.Id, "/invites")
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := h.Try("POST", path, tok, body)
		checkFuzzResponse(t, r, err)
	})
}

func FuzzGroupParameters(f *testing.F) {
	for _, seed := range [][3]string{
		{"", "", "1"}, {"20", "cjE", "me"}, {"0", "x", "-1"}, {"101", "cjEwMDE", "99999999999999999999"},
		{"ten", "%zz", "%00"}, {"1", "YzE", "{}"}, {"", "====", ""},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	h := newHarness(f)
	tok := h.user(f, 509)
	g := h.createGroup(f, tok)
	f.Fuzz(func(t *testing.T, limit, cursor, id string) {
		q := url.Values{}
		for k, v := range map[string]string{"limit": limit, "cursor": cursor} {
			if v != "" {
				q.Set(k, v)
			}
		}
		for _, path := range []string{
			groupPath(g.Id, "/leaderboard?"+q.Encode()),
			groupPath(g.Id, "/invites?"+q.Encode()),
			"/challenges/groups?" + q.Encode(),
			"/challenges/groups/" + url.PathEscape(id) + "/leaderboard",
			"/challenges/groups/" + url.PathEscape(id),
		} {
			r, err := h.Try("GET", path, tok, nil)
			checkFuzzResponse(t, r, err)
		}
		r, err := h.Try("DELETE", groupPath(g.Id, "/participants/"+url.PathEscape(id)), tok, nil)
		checkFuzzResponse(t, r, err)
		r, err = h.Try("DELETE", groupPath(g.Id, "/invites/"+url.PathEscape(id)), tok, nil)
		checkFuzzResponse(t, r, err)
	})
}
