package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"time"
)

// EnsureVhost makes sure the vhost of amqpURL exists and its user may use
// it: through the management API on port 15672 when it answers, else with
// rabbitmqctl. The default vhost ("/") is left alone.
func EnsureVhost(ctx context.Context, amqpURL string) error {
	u, err := url.Parse(amqpURL)
	if err != nil {
		return fmt.Errorf("AMQP url: %w", err)
	}
	vhost := strings.TrimPrefix(u.Path, "/")
	if vhost == "" {
		return nil
	}
	if vhost, err = url.PathUnescape(vhost); err != nil {
		return err
	}
	user, pass := "guest", "guest"
	if u.User != nil {
		user = u.User.Username()
		if p, ok := u.User.Password(); ok {
			pass = p
		}
	}
	mgmt := "http://" + u.Hostname() + ":15672/api"
	put := func(path, body string) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, mgmt+path, bytes.NewBufferString(body))
		req.SetBasicAuth(user, pass)
		req.Header.Set("Content-Type", "application/json")
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("PUT %s: %s", path, resp.Status)
		}
		return nil
	}
	esc := url.PathEscape(vhost)
	if put("/vhosts/"+esc, "{}") == nil && put("/permissions/"+esc+"/"+url.PathEscape(user), `{"configure":".*","write":".*","read":".*"}`) == nil {
		return nil
	}
	ctl, err := exec.LookPath("rabbitmqctl")
	if err != nil {
		ctl = "/usr/sbin/rabbitmqctl"
	}
	out, err := exec.CommandContext(ctx, ctl, "list_vhosts", "-q").CombinedOutput()
	if err != nil {
		return fmt.Errorf("AMQP vhost %q: no management API on %s and rabbitmqctl failed: %v %s", vhost, mgmt, err, out)
	}
	exists := false
	for _, l := range strings.Split(string(out), "\n") {
		exists = exists || strings.TrimSpace(l) == vhost
	}
	if !exists {
		if out, err := exec.CommandContext(ctx, ctl, "add_vhost", vhost).CombinedOutput(); err != nil {
			return fmt.Errorf("rabbitmqctl add_vhost %s: %v %s", vhost, err, out)
		}
	}
	if out, err := exec.CommandContext(ctx, ctl, "set_permissions", "-p", vhost, user, ".*", ".*", ".*").CombinedOutput(); err != nil {
		return fmt.Errorf("rabbitmqctl set_permissions: %v %s", err, out)
	}
	return nil
}
