// Package config reads a service's settings from environment variables (12-factor)
// and collects every problem at once, so a misconfigured deploy fails at start with
// one message that names all the bad variables instead of one per restart.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Env reads typed values; a bad value records an error and yields the default.
type Env struct {
	lookup func(string) (string, bool)
	errs   []error
}

// FromEnviron reads the process environment.
func FromEnviron() *Env { return &Env{lookup: os.LookupEnv} }

// FromMap reads a fixed set of values; tests use it instead of mutating the process.
func FromMap(m map[string]string) *Env {
	return &Env{lookup: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

func (e *Env) raw(name string) (string, bool) {
	v, ok := e.lookup(name)
	if !ok {
		return "", false
	}
	v = strings.TrimSpace(v)
	return v, v != ""
}

func (e *Env) fail(name, format string, args ...any) {
	e.errs = append(e.errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
}

// String returns the variable or def when unset or empty.
func (e *Env) String(name, def string) string {
	if v, ok := e.raw(name); ok {
		return v
	}
	return def
}

// Required returns the variable and records an error when it is unset or empty.
func (e *Env) Required(name string) string {
	v, ok := e.raw(name)
	if !ok {
		e.fail(name, "required but not set")
	}
	return v
}

// Int parses a base-10 integer within [min, max].
func (e *Env) Int(name string, def, min, max int) int {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		e.fail(name, "%q is not an integer", v)
		return def
	}
	if n < min || n > max {
		e.fail(name, "%d is outside [%d, %d]", n, min, max)
		return def
	}
	return n
}

// Duration parses a Go duration (e.g. 30s, 15m) within [min, max].
func (e *Env) Duration(name string, def, min, max time.Duration) time.Duration {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		e.fail(name, "%q is not a duration (e.g. 30s, 15m)", v)
		return def
	}
	if d < min || d > max {
		e.fail(name, "%s is outside [%s, %s]", d, min, max)
		return def
	}
	return d
}

// Bool accepts true/false/1/0/yes/no/on/off.
func (e *Env) Bool(name string, def bool) bool {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true
	case "0", "false", "no", "off":
		return false
	}
	e.fail(name, "%q is not a boolean (true or false)", v)
	return def
}

// OneOf returns the variable when it is one of allowed.
func (e *Env) OneOf(name, def string, allowed ...string) string {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a
		}
	}
	e.fail(name, "%q is not one of %s", v, strings.Join(allowed, ", "))
	return def
}

// URL parses an absolute URL whose scheme is one of schemes.
func (e *Env) URL(name, def string, schemes ...string) string {
	v := e.String(name, def)
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		e.fail(name, "%q is not an absolute URL", redact(v))
		return def
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return v
		}
	}
	e.fail(name, "scheme %q is not one of %s", u.Scheme, strings.Join(schemes, ", "))
	return def
}

// URLs reads a comma-separated list of absolute URLs, each with one of
// schemes, and returns them (def when unset). At least one is required.
func (e *Env) URLs(name string, def []string, schemes ...string) []string {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	var out []string
	for i, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		u, err := url.Parse(item)
		if err != nil || u.Host == "" {
			e.fail(name, "item %d, %q, is not an absolute URL", i+1, redact(item))
			return def
		}
		if !slices.Contains(schemes, u.Scheme) {
			e.fail(name, "item %d: scheme %q is not one of %s", i+1, u.Scheme, strings.Join(schemes, ", "))
			return def
		}
		out = append(out, item)
	}
	if len(out) == 0 {
		e.fail(name, "no URL in %q", v)
		return def
	}
	return out
}

// List splits a comma-separated value, dropping empty items.
func (e *Env) List(name string) []string {
	v, ok := e.raw(name)
	if !ok {
		return nil
	}
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Prefixes parses a comma-separated list of IP prefixes in CIDR notation
// (10.244.0.0/16, 2001:db8::/32) or single addresses (192.0.2.10, taken as a
// /32 or /128), dropping empty items. Host bits are cleared (10.244.1.0/16 is
// 10.244.0.0/16). Every bad item is reported; then the result is nil.
func (e *Env) Prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	bad := false
	for _, item := range e.List(name) {
		p, err := parsePrefix(item)
		if err != nil {
			e.fail(name, "%q is not an IP address or CIDR prefix (%v)", item, err)
			bad = true
			continue
		}
		out = append(out, p)
	}
	if bad {
		return nil
	}
	return out
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, errors.New("a zone has no place here")
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Err reports every invalid variable, or nil.
func (e *Env) Err() error {
	if len(e.errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid configuration:\n  %w", errors.Join(e.errs...))
}

// redact hides credentials so configuration errors can be logged safely.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}
