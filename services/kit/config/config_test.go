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
