package vhosttest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The management API path, which only CI takes, against a stand-in that
// checks what the real API needs: method, path, basic auth and a JSON body.
func TestManagementAPICreatesAndDeletesVhosts(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, fmt.Sprintf("%s %s %s:%s %s %s", r.Method, r.URL.EscapedPath(), user, pass, r.Header.Get("Content-Type"), body))
		mu.Unlock()
		if r.Method == http.MethodPut {
			w.WriteHeader(http.StatusCreated)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	api := NewManagementAPI(strings.Replace(srv.URL, "http://", "http://admin:s3cret@", 1) + "/")
	admin, err := Create([]Admin{api}, "t_1/2")
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.DeleteVhost("t_1/2"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"PUT /api/vhosts/t_1%2F2 admin:s3cret application/json {}",
		`PUT /api/permissions/t_1%2F2/guest admin:s3cret application/json {"configure":".*","read":".*","write":".*"}`,
		"DELETE /api/vhosts/t_1%2F2 admin:s3cret  ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// rabbitmqctl is taken when on PATH, the management API otherwise or when
// named; a failure lists every attempt with its error.
func TestVhostAdminChoiceAndFailureReport(t *testing.T) {
	if got := fmt.Sprint(ChooseAdmins("", "/usr/sbin/rabbitmqctl")); got != "[rabbitmqctl (/usr/sbin/rabbitmqctl) management API at http://127.0.0.1:15672]" {
		t.Errorf("with rabbitmqctl on PATH: %s", got)
	}
	if got := fmt.Sprint(ChooseAdmins("", "")); got != "[rabbitmqctl management API at http://127.0.0.1:15672]" {
		t.Errorf("without rabbitmqctl: %s", got)
	}
	if got := fmt.Sprint(ChooseAdmins("http://u:p@mq:15672", "/usr/sbin/rabbitmqctl")); got != "[management API at http://mq:15672]" {
		t.Errorf("with %s set: %s", ManagementURLEnv, got)
	}

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"not_authorized"}`, http.StatusUnauthorized)
	}))
	defer failing.Close()
	ctl := filepath.Join(t.TempDir(), "rabbitmqctl")
	if err := os.WriteFile(ctl, []byte("#!/bin/sh\necho 'unable to connect to node' >&2\nexit 69\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		admins []Admin
		want   []string
	}{
		{"rabbitmqctl fails", []Admin{rabbitmqctl{path: ctl}, NewManagementAPI(failing.URL)},
			[]string{"rabbitmqctl (" + ctl + "): import_definitions", "unable to connect to node",
				"management API at " + failing.URL + ": PUT /api/vhosts/t_x: 401 Unauthorized", "not_authorized"}},
		// Not ChooseAdmins("", ""): its default address is a live API in CI.
		{"rabbitmqctl missing", []Admin{rabbitmqctl{}, NewManagementAPI(failing.URL)},
			[]string{"rabbitmqctl: not on PATH", "management API at " + failing.URL + ": PUT"}},
		{"bad URL", ChooseAdmins("127.0.0.1:15672", ""),
			[]string{"management API: " + ManagementURLEnv + ` "127.0.0.1:15672"`}},
	} {
		_, err := Create(tc.admins, "t_x")
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error lacks %q:\n%v", tc.name, w, err)
			}
		}
	}
}
