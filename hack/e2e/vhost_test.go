package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Vhosts are made the way services/kit/events' tests make them (its
// vhost_test.go, which other packages cannot import): rabbitmqctl when it is
// on PATH, else the management HTTP API, which is what CI has (the broker
// runs in a service container whose rabbitmqctl is not on the runner).

const (
	managementURLEnv     = "RABBITMQ_MANAGEMENT_URL"
	defaultManagementURL = "http://guest:guest@127.0.0.1:15672"
	amqpUser             = "guest" // the user the services connect as
)

// vhostAdmin creates vhosts the AMQP user may use, and deletes them.
type vhostAdmin interface {
	addVhost(name string) error
	deleteVhost(name string) error
	String() string
}

// chooseAdmins lists what to try, in order: the management API alone when
// RABBITMQ_MANAGEMENT_URL is set, else rabbitmqctl and then the management
// API at its default address.
func chooseAdmins() []vhostAdmin {
	if u := os.Getenv(managementURLEnv); u != "" {
		return []vhostAdmin{newManagementAPI(u)}
	}
	path, _ := exec.LookPath("rabbitmqctl")
	return []vhostAdmin{rabbitmqctl{path: path}, newManagementAPI(defaultManagementURL)}
}

// createVhost returns the first admin that created the vhost; when none
// could, the error lists each attempt.
func createVhost(name string) (vhostAdmin, error) {
	var errs []error
	for _, a := range chooseAdmins() {
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
// rabbitmqctl run instead of add_vhost plus set_permissions.
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
