package dockerengine

import (
	"encoding/json"
	"testing"
)

func TestDaemonConfig(t *testing.T) {
	b, err := DaemonConfig("/state/data", "/state/runc-capstrip")
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["data-root"] != "/state/data" || cfg["default-runtime"] != "runc-capstrip" {
		t.Errorf("config %s", b)
	}
	rt, _ := cfg["runtimes"].(map[string]any)["runc-capstrip"].(map[string]any)
	if rt["path"] != "/state/runc-capstrip" {
		t.Errorf("runtime path: %s", b)
	}
	b, _ = DaemonConfig("/d", "")
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg = map[string]any{}
	_ = json.Unmarshal(b, &cfg)
	if _, ok := cfg["default-runtime"]; ok {
		t.Errorf("no wrapper needed: runc stays the default: %s", b)
	}
}
