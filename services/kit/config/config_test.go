package config

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultsWhenUnset(t *testing.T) {
	e := FromMap(map[string]string{"EMPTY": "  "})
	if got := e.String("EMPTY", "d"); got != "d" {
		t.Errorf("String(empty) = %q, want default", got)
	}
	if got := e.Int("N", 7, 0, 10); got != 7 {
		t.Errorf("Int = %d", got)
	}
	if got := e.Duration("D", time.Second, 0, time.Hour); got != time.Second {
		t.Errorf("Duration = %s", got)
	}
	if got := e.Bool("B", true); !got {
		t.Errorf("Bool = %v", got)
	}
	if err := e.Err(); err != nil {
		t.Fatalf("Err = %v", err)
	}
}

func TestParsesValues(t *testing.T) {
	e := FromMap(map[string]string{
		"N": "42", "D": "15m", "B": "off", "L": "a.pem, ,b.pem", "LVL": "WARN",
		"U": "redis://:secret@127.0.0.1:6379/0",
	})
	if got := e.Int("N", 0, 0, 100); got != 42 {
		t.Errorf("Int = %d", got)
	}
	if got := e.Duration("D", 0, 0, time.Hour); got != 15*time.Minute {
		t.Errorf("Duration = %s", got)
	}
	if got := e.Bool("B", true); got {
		t.Errorf("Bool = %v", got)
	}
	if got := e.List("L"); len(got) != 2 || got[0] != "a.pem" || got[1] != "b.pem" {
		t.Errorf("List = %q", got)
	}
	if got := e.OneOf("LVL", "info", "debug", "info", "warn"); got != "warn" {
		t.Errorf("OneOf = %q", got)
	}
	if got := e.URL("U", "", "redis", "rediss"); !strings.HasPrefix(got, "redis://") {
		t.Errorf("URL = %q", got)
	}
	if err := e.Err(); err != nil {
		t.Fatalf("Err = %v", err)
	}
}

func TestReportsEveryInvalidVariable(t *testing.T) {
	e := FromMap(map[string]string{
		"N": "many", "R": "", "D": "soon", "B": "maybe", "MAX": "101",
		"U": "ftp://user:hunter2@host/x",
	})
	e.Int("N", 1, 0, 10)
	e.Required("R")
	e.Duration("D", 0, 0, time.Hour)
	e.Bool("B", false)
	e.Int("MAX", 1, 0, 100)
	e.URL("U", "", "redis")
	err := e.Err()
	if err == nil {
		t.Fatal("Err = nil, want errors")
	}
	msg := err.Error()
	for _, name := range []string{"N:", "R:", "D:", "B:", "MAX:", "U:"} {
		if !strings.Contains(msg, name) {
			t.Errorf("error does not name %s: %s", name, msg)
		}
	}
	if strings.Contains(msg, "hunter2") {
		t.Errorf("error leaks a credential: %s", msg)
	}
}

func TestPrefixes(t *testing.T) {
	e := FromMap(map[string]string{
		"P":     " 10.244.0.0/16, 192.0.2.10 ,, 2001:db8::/32, ::1, 10.1.2.3/8 ",
		"BAD":   "10.0.0.0/8, 10.0.0.0/33, proxy.internal, fe80::1%eth0, 10.0.0.1-10.0.0.9",
		"EMPTY": " , ",
	})
	want := []string{"10.244.0.0/16", "192.0.2.10/32", "2001:db8::/32", "::1/128", "10.0.0.0/8"}
	got := e.Prefixes("P")
	if len(got) != len(want) {
		t.Fatalf("Prefixes = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("Prefixes[%d] = %s, want %s", i, got[i], want[i])
		}
	}
	if got := e.Prefixes("UNSET"); got != nil {
		t.Errorf("unset: %v", got)
	}
	if got := e.Prefixes("EMPTY"); got != nil {
		t.Errorf("empty: %v", got)
	}
	if err := e.Err(); err != nil {
		t.Fatalf("Err = %v", err)
	}
	if got := e.Prefixes("BAD"); got != nil {
		t.Errorf("bad list gave %v, want nil", got)
	}
	err := e.Err()
	if err == nil {
		t.Fatal("bad prefixes accepted")
	}
	for _, item := range []string{"10.0.0.0/33", "proxy.internal", "fe80::1%eth0", "10.0.0.1-10.0.0.9"} {
		if !strings.Contains(err.Error(), "BAD: \""+item+"\"") {
			t.Errorf("error does not name BAD: %q: %v", item, err)
		}
	}
	if strings.Contains(err.Error(), `"10.0.0.0/8"`) {
		t.Errorf("a good item reported: %v", err)
	}
}

func TestURLs(t *testing.T) {
	e := FromMap(map[string]string{"ONE": "amqp://a:5672/", "MANY": " amqp://u:pw@a:5672/v , ,amqps://b:5671/v"})
	if got := e.URLs("ONE", nil, "amqp"); len(got) != 1 || got[0] != "amqp://a:5672/" {
		t.Errorf("URLs(one) = %q", got)
	}
	if got := e.URLs("MANY", nil, "amqp", "amqps"); len(got) != 2 || got[0] != "amqp://u:pw@a:5672/v" || got[1] != "amqps://b:5671/v" {
		t.Errorf("URLs(many) = %q", got)
	}
	if got := e.URLs("UNSET", []string{"amqp://d/"}, "amqp"); len(got) != 1 || got[0] != "amqp://d/" {
		t.Errorf("URLs(unset) = %q", got)
	}
	if err := e.Err(); err != nil {
		t.Fatalf("Err = %v", err)
	}
	for _, bad := range []string{"amqp://ok:hunter2@x/,http://b/", "amqp://a/,b:5672", " , "} {
		e := FromMap(map[string]string{"U": bad})
		if got := e.URLs("U", []string{"def"}, "amqp"); len(got) != 1 || got[0] != "def" {
			t.Errorf("%q: URLs = %q, want the default", bad, got)
		}
		err := e.Err()
		if err == nil || !strings.Contains(err.Error(), "U: ") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: Err = %v", bad, err)
		}
	}
	e = FromMap(map[string]string{"U": "amqp://user:hunter2@/x"})
	e.URLs("U", nil, "amqp")
	if err := e.Err(); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Err = %v, want an error without the password", err)
	}
}
