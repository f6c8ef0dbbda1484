// Package vhosttest gives a test its own RabbitMQ vhost, so its fixed queue
// and exchange names cannot meet another test's (or a running make run's). It
// uses rabbitmqctl when it is on PATH, else the management HTTP API, which is
// what CI has: the broker runs in a service container whose rabbitmqctl is not
// on the runner. kit/events' tests and hack/e2e share it.
package vhosttest

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

const (
	// ManagementURLEnv selects the management HTTP API (with its credentials,
	// e.g. http://guest:guest@127.0.0.1:15672) over rabbitmqctl.
	ManagementURLEnv     = "RABBITMQ_MANAGEMENT_URL"
	DefaultManagementURL = "http://guest:guest@127.0.0.1:15672"
	// AMQPUser is the user the tests connect as; it is given every
	// permission on the vhosts made here.
	AMQPUser = "guest"
)

// Admin creates vhosts the AMQP user may use, and deletes them.
type Admin interface {
	AddVhost(name string) error
	DeleteVhost(name string) error
	String() string
}

// New creates vhost name with the first admin that can, chosen from the
// environment (see ChooseAdmins), and returns that admin to delete it with.
func New(name string) (Admin, error) {
	return Create(ChooseAdmins(os.Getenv(ManagementURLEnv), LookRabbitmqctl()), name)
}

// LookRabbitmqctl is rabbitmqctl's path, or "" when it is not on PATH.
func LookRabbitmqctl() string {
	path, _ := exec.LookPath("rabbitmqctl")
	return path
}

// ChooseAdmins lists what to try, in order: the management API alone when
// managementURL is set, else rabbitmqctl (path empty: not on PATH) and then
// the management API at its default address.
func ChooseAdmins(managementURL, rabbitmqctlPath string) []Admin {
	if managementURL != "" {
		return []Admin{NewManagementAPI(managementURL)}
	}
	return []Admin{rabbitmqctl{path: rabbitmqctlPath}, NewManagementAPI(DefaultManagementURL)}
}

// Create returns the first admin that created the vhost; when none could,
// the error lists each attempt and what it ran into.
func Create(admins []Admin, name string) (Admin, error) {
	var errs []error
	for _, a := range admins {
		err := a.AddVhost(name)
		if err == nil {
			return a, nil
		}
		errs = append(errs, fmt.Errorf("  %s: %w", a, err))
	}
	return nil, fmt.Errorf("creating vhost %s failed (%s selects a management API); tried:\n%w",
		name, ManagementURLEnv, errors.Join(errs...))
}

type rabbitmqctl struct{ path string }

func (c rabbitmqctl) String() string {
	if c.path == "" {
		return "rabbitmqctl"
	}
	return "rabbitmqctl (" + c.path + ")"
}

// AddVhost imports the vhost and its permissions as definitions: one
// rabbitmqctl run, so one VM boot, instead of add_vhost plus set_permissions.
func (c rabbitmqctl) AddVhost(name string) error {
	if c.path == "" {
		return errors.New("not on PATH")
	}
	defs, err := json.Marshal(map[string]any{
		"vhosts": []map[string]string{{"name": name}},
		"permissions": []map[string]string{{
			"user": AMQPUser, "vhost": name, "configure": ".*", "write": ".*", "read": ".*",
		}},
	})
	if err != nil {
		return err
	}
	// Through stdin: the packaged rabbitmqctl runs as the rabbitmq user, who
	// cannot read a private temporary file.
	return c.run(defs, "import_definitions", "--format", "json")
}

func (c rabbitmqctl) DeleteVhost(name string) error { return c.run(nil, "delete_vhost", name) }

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

// NewManagementAPI is an Admin over the management HTTP API at raw
// (http(s)://[user:password@]host:port; guest:guest when no credentials).
func NewManagementAPI(raw string) Admin {
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
		m.parseErr = fmt.Errorf("%s %q: %w", ManagementURLEnv, raw, err)
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

func (m *managementAPI) AddVhost(name string) error {
	if err := m.do(http.MethodPut, "/api/vhosts/"+url.PathEscape(name), map[string]string{}); err != nil {
		return err
	}
	perms := map[string]string{"configure": ".*", "write": ".*", "read": ".*"}
	if err := m.do(http.MethodPut, "/api/permissions/"+url.PathEscape(name)+"/"+url.PathEscape(AMQPUser), perms); err != nil {
		// Not left behind half made.
		return errors.Join(err, m.DeleteVhost(name))
	}
	return nil
}

func (m *managementAPI) DeleteVhost(name string) error {
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
