package capstrip

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestBoundingAndMissing(t *testing.T) {
	// This VM's set: every capability up to 40 except CAP_SYS_RESOURCE (24).
	mask, err := Bounding(strings.NewReader("Name:\tx\nCapEff:\t0\nCapBnd:\t000001fffeffffff\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := Missing(mask); !reflect.DeepEqual(got, []string{"CAP_SYS_RESOURCE"}) {
		t.Fatalf("Missing = %v", got)
	}
	if got := Missing(1<<len(Names) - 1); len(got) != 0 {
		t.Fatalf("full set: Missing = %v", got)
	}
	if _, err := Bounding(strings.NewReader("Name:\tx\n")); err == nil {
		t.Fatal("no CapBnd line: want an error")
	}
}

func TestTargets(t *testing.T) {
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"--root", "/run/r", "--log", "l.json", "--log-format", "json", "create", "--bundle", "/b", "--pid-file", "p", "id"}, []string{"/b/config.json"}},
		{[]string{"create", "--bundle=rel", "id"}, []string{"/cwd/rel/config.json"}},
		{[]string{"run", "-b", "/b", "id"}, []string{"/b/config.json"}},
		{[]string{"create", "id"}, []string{"/cwd/config.json"}},
		{[]string{"--root", "/r", "exec", "--process", "/tmp/p.json", "--detach", "id"}, []string{"/tmp/p.json"}},
		{[]string{"exec", "-p", "p.json", "id"}, []string{"/cwd/p.json"}},
		{[]string{"exec", "id", "sh"}, nil},
		{[]string{"--root", "/r", "start", "id"}, nil},
		{[]string{"--version"}, nil},
	}
	for _, c := range cases {
		if got := Targets(c.args, "/cwd"); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Targets(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}

func TestFixFileConfigAndProcess(t *testing.T) {
	dir := t.TempDir()
	drop := map[string]bool{"CAP_SYS_RESOURCE": true}
	all := []string{"CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_SYS_ADMIN"}
	config := map[string]any{
		"ociVersion": "1.0.2",
		"process": map[string]any{"capabilities": map[string]any{
			"bounding": all, "effective": all, "permitted": all, "inheritable": all,
		}, "args": []string{"/sbin/init"}},
		"linux": map[string]any{"unknownField": 1},
	}
	process := map[string]any{"capabilities": map[string]any{"bounding": all, "effective": all}, "args": []string{"sh"}}
	for name, doc := range map[string]any{"config.json": config, "process.json": process} {
		p := filepath.Join(dir, name)
		b, _ := json.Marshal(doc)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := FixFile(p, drop); err != nil {
			t.Fatal(err)
		}
		b, _ = os.ReadFile(p)
		if strings.Contains(string(b), "CAP_SYS_RESOURCE") {
			t.Errorf("%s still grants CAP_SYS_RESOURCE: %s", name, b)
		}
		if !strings.Contains(string(b), "CAP_SYS_ADMIN") || !strings.Contains(string(b), `"args"`) {
			t.Errorf("%s lost other content: %s", name, b)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if !strings.Contains(string(b), "unknownField") {
		t.Errorf("unknown fields must survive: %s", b)
	}
}

func TestFixFileUnchangedWhenNothingToDrop(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.json")
	orig := `{"process": {"capabilities": {"bounding": ["CAP_CHOWN"]}},   "x": 1}`
	if err := os.WriteFile(p, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := FixFile(p, map[string]bool{"CAP_SYS_RESOURCE": true}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != orig {
		t.Fatalf("file rewritten although nothing was dropped: %s", b)
	}
}
