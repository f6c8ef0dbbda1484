package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The tests share one vhost, created on first use and deleted when the
// package's tests end: creating one costs an Erlang VM boot through
// rabbitmqctl, seconds each. Every test still owns its names inside it (an
// exchange and a service name of its own, see newEnv) and deletes what it
// declared.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if err := dropPackageVhost(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = max(code, 1)
		}
		os.Exit(code)
	}))
}

// managementURLEnv selects the management HTTP API (with its credentials,
// e.g. http://guest:guest@127.0.0.1:15672) over rabbitmqctl: CI runs the
// broker in a service container whose rabbitmqctl is not on the runner's PATH.
const (
	managementURLEnv     = "RABBITMQ_MANAGEMENT_URL"
	defaultManagementURL = "http://guest:guest@127.0.0.1:15672"
	// amqpUser is the user the tests connect as (see amqpURL).
	amqpUser = "guest"
)

var pkgVhost struct {
	once  sync.Once
	name  string
	admin vhostAdmin // the one that created it, used to delete it
	err   error
}

func packageVhost(tb testing.TB) string {
	tb.Helper()
	pkgVhost.once.Do(func() {
		name := randomName()
		admin, err := createVhost(chooseAdmins(os.Getenv(managementURLEnv), lookRabbitmqctl()), name)
		pkgVhost.name, pkgVhost.admin, pkgVhost.err = name, admin, err
	})
	if pkgVhost.err != nil {
		tb.Fatal(pkgVhost.err)
	}
	return pkgVhost.name
}

func dropPackageVhost() error {
	if pkgVhost.admin == nil {
		return nil
	}
	if err := pkgVhost.admin.deleteVhost(pkgVhost.name); err != nil {
		return fmt.Errorf("deleting vhost %s through %s: %w", pkgVhost.name, pkgVhost.admin, err)
	}
	return nil
}

// vhostAdmin creates vhosts the AMQP user may use, and deletes them.
type vhostAdmin interface {
	addVhost(name string) error
	deleteVhost(name string) error
	String() string
}

func lookRabbitmqctl() string {
	path, _ := exec.LookPath("rabbitmqctl")
	return path
}

// chooseAdmins lists what to try, in order: the management API alone when
// managementURL is set, else rabbitmqctl (path empty: not on PATH) and then
// the management API at its default address.
func chooseAdmins(managementURL, rabbitmqctlPath string) []vhostAdmin {
	if managementURL != "" {
		return []vhostAdmin{newManagementAPI(managementURL)}
	}
	return []vhostAdmin{rabbitmqctl{path: rabbitmqctlPath}, newManagementAPI(defaultManagementURL)}
}

// createVhost returns the first admin that created the vhost; when none
// could, the error lists each attempt and what it ran into.
func createVhost(admins []vhostAdmin, name string) (vhostAdmin, error) {
	var errs []error
	for _, a := range admins {
		err := a.addVhost(name)
		if err == nil {
			return a, nil
		}
		errs = append(errs, fmt.Errorf("  %s: %w", a, err))
	}
	return nil, fmt.Errorf("creating vhost %s failed (%s selects a management API); tried:\n%w",
		name, managementURLEnv, errors.Join(errs...))
}

type rabbitmqctl struct{ path string }

func (c rabbitmqctl) String() string {
	if c.path == "" {
		return "rabbitmqctl"
	}
	return "rabbitmqctl (" + c.path + ")"
}

// addVhost imports the vhost and its permissions as definitions: one
// rabbitmqctl run, so one VM boot, instead of add_vhost plus set_permissions.
func (c rabbitmqctl) addVhost(name string) error {
	if c.path == "" {
		return errors.New("not on PATH")
	}
	defs, err := json.Marshal(map[string]any{
		"vhosts": []map[string]string{{"name": name}},
		"permissions": []map[string]string{{
			"user": amqpUser, "vhost": name, "configure": ".*", "write": ".*", "read": ".*",
		}},
	})
	if err != nil {
		return err
	}
	// Through stdin: the packaged rabbitmqctl runs as the rabbitmq user, who
	// cannot read a private temporary file.
	return c.run(defs, "import_definitions", "--format", "json")
}

func (c rabbitmqctl) deleteVhost(name string) error { return c.run(nil, "delete_vhost", name) }

func (c rabbitmqctl) run(stdin []byte, args ...string) error {
	cmd := exec.Command(c.path, append([]string{"-q"}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

type managementAPI struct {
	base       *url.URL // without credentials
	user, pass string
	client     *http.Client
	parseErr   error
}

func newManagementAPI(raw string) *managementAPI {
	m := &managementAPI{
		user: "guest", pass: "guest",
		// No idle connections: the leak checks would count their goroutines.
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
	}
	u, err := url.Parse(raw)
	if err == nil && (u.Scheme != "http" && u.Scheme != "https" || u.Host == "") {
		err = errors.New("want http(s)://[user:password@]host:port")
	}
	if err != nil {
		m.parseErr = fmt.Errorf("%s %q: %w", managementURLEnv, raw, err)
		return m
	}
	if u.User != nil {
		m.user = u.User.Username()
		m.pass, _ = u.User.Password()
	}
	u.User = nil
	u.Path = strings.TrimSuffix(u.Path, "/")
	m.base = u
	return m
}

func (m *managementAPI) String() string {
	if m.base == nil {
		return "management API"
	}
	return "management API at " + m.base.String()
}

func (m *managementAPI) addVhost(name string) error {
	if err := m.do(http.MethodPut, "/api/vhosts/"+url.PathEscape(name), map[string]string{}); err != nil {
		return err
	}
	perms := map[string]string{"configure": ".*", "write": ".*", "read": ".*"}
	if err := m.do(http.MethodPut, "/api/permissions/"+url.PathEscape(name)+"/"+url.PathEscape(amqpUser), perms); err != nil {
		// Not left behind half made.
		return errors.Join(err, m.deleteVhost(name))
	}
	return nil
}

func (m *managementAPI) deleteVhost(name string) error {
	return m.do(http.MethodDelete, "/api/vhosts/"+url.PathEscape(name), nil)
}

func (m *managementAPI) do(method, path string, body any) error {
	if m.parseErr != nil {
		return m.parseErr
	}
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, m.base.String()+path, r)
	if err != nil {
		return err
	}
	req.SetBasicAuth(m.user, m.pass)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

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
	api := newManagementAPI(strings.Replace(srv.URL, "http://", "http://admin:s3cret@", 1) + "/")
	admin, err := createVhost([]vhostAdmin{api}, "t_1/2")
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.deleteVhost("t_1/2"); err != nil {
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
	if got := fmt.Sprint(chooseAdmins("", "/usr/sbin/rabbitmqctl")); got != "[rabbitmqctl (/usr/sbin/rabbitmqctl) management API at http://127.0.0.1:15672]" {
		t.Errorf("with rabbitmqctl on PATH: %s", got)
	}
	if got := fmt.Sprint(chooseAdmins("", "")); got != "[rabbitmqctl management API at http://127.0.0.1:15672]" {
		t.Errorf("without rabbitmqctl: %s", got)
	}
	if got := fmt.Sprint(chooseAdmins("http://u:p@mq:15672", "/usr/sbin/rabbitmqctl")); got != "[management API at http://mq:15672]" {
		t.Errorf("with %s set: %s", managementURLEnv, got)
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
		admins []vhostAdmin
		want   []string
	}{
		{"rabbitmqctl fails", []vhostAdmin{rabbitmqctl{path: ctl}, newManagementAPI(failing.URL)},
			[]string{"rabbitmqctl (" + ctl + "): import_definitions", "unable to connect to node",
				"management API at " + failing.URL + ": PUT /api/vhosts/t_x: 401 Unauthorized", "not_authorized"}},
		// Not chooseAdmins("", ""): its default address is a live API in CI.
		{"rabbitmqctl missing", []vhostAdmin{rabbitmqctl{}, newManagementAPI(failing.URL)},
			[]string{"rabbitmqctl: not on PATH", "management API at " + failing.URL + ": PUT"}},
		{"bad URL", chooseAdmins("127.0.0.1:15672", ""),
			[]string{"management API: " + managementURLEnv + ` "127.0.0.1:15672"`}},
	} {
		_, err := createVhost(tc.admins, "t_x")
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
