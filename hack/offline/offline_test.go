package offline

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/progressive-overload/po/hack/dockercheck"
)

func TestContainerdConfigFromKinds(t *testing.T) {
	src := filepath.Join(kindModuleDir(Config{Root: filepath.Join("..", "..")}), "images", "base", "files", "etc", "containerd", "config.toml")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("kind's containerd config: %v", err)
	}
	out, err := ContainerdConfig(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "proxy_plugins") || strings.Contains(out, "fuse-overlayfs.sock") {
		t.Errorf("the fuse-overlayfs proxy plugin is still there:\n%s", out)
	}
	if !strings.Contains(out, "restrict_oom_score_adj = true") || strings.Contains(out, "restrict_oom_score_adj = false") {
		t.Errorf("restrict_oom_score_adj not turned on:\n%s", out)
	}
	if !strings.Contains(out, `sandbox_image = "registry.k8s.io/pause:`+PauseVersion+`"`) {
		t.Errorf("kind's sandbox image is not the pause image we build (%s):\n%s", PauseVersion, out)
	}
	if _, err := ContainerdConfig("version = 2\n"); err == nil {
		t.Error("a config without restrict_oom_score_adj must be refused (kind changed)")
	}
}

func TestMirrorFrom(t *testing.T) {
	deb822 := "Types: deb\n# a comment\nURIs: http://mirror.example/debian\nSuites: bookworm\n\nTypes: deb\nURIs: http://mirror.example/debian-security\n"
	if got := MirrorFrom(deb822); got != "http://mirror.example/debian" {
		t.Errorf("deb822: %q", got)
	}
	classic := "deb http://security.example/debian-security bookworm-security main\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main\n"
	if got := MirrorFrom(classic); got != "http://m.example/debian" {
		t.Errorf("sources.list: %q", got)
	}
	if got := MirrorFrom("# nothing\n"); got != "" {
		t.Errorf("no source: %q", got)
	}
}

func TestQualifyAndMissingImports(t *testing.T) {
	for in, want := range map[string]string{
		"debian:bookworm-slim":                  "docker.io/library/debian:bookworm-slim",
		"po-offline/mysql:8.4":                  "docker.io/po-offline/mysql:8.4",
		"registry.k8s.io/pause:3.10":            "registry.k8s.io/pause:3.10",
		"localhost/x:1":                         "localhost/x:1",
		"gcr.io/distroless/static-debian12:x":   "gcr.io/distroless/static-debian12:x",
		"localhost:5001/progressive-overload:1": "localhost:5001/progressive-overload:1",
	} {
		if got := Qualify(in); got != want {
			t.Errorf("Qualify(%q) = %q, want %q", in, got, want)
		}
	}
	listed := []string{"registry.k8s.io/pause:3.10", "docker.io/library/debian:bookworm-slim", "sha256:abc"}
	if got := MissingImports(listed, []string{"debian:bookworm-slim", "registry.k8s.io/pause:3.10", "registry.k8s.io/etcd:3.5.24-0"}); !reflect.DeepEqual(got, []string{"registry.k8s.io/etcd:3.5.24-0"}) {
		t.Errorf("MissingImports = %v", got)
	}
}

func TestKeyFollowsContentModesAndParents(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("Dockerfile", "FROM scratch\n", 0o644)
	write("bin/tool", "v1", 0o755)
	img := Image{Ref: "x:1"}
	key := func(parents ...string) string {
		k, err := Key(dir, img, parents)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := key("sha256:a")
	if key("sha256:a") != base {
		t.Fatal("the same inputs must give the same key")
	}
	if key("sha256:b") == base {
		t.Error("a rebuilt parent image must change the key")
	}
	write("bin/tool", "v2", 0o755)
	changed := key("sha256:a")
	if changed == base {
		t.Error("a changed binary must change the key")
	}
	write("bin/tool", "v2", 0o644)
	if key("sha256:a") == changed {
		t.Error("a changed file mode must change the key")
	}
}

// Every image the node imports is built by the set (or is the Debian base), and
// each context directory exists.
func TestSetIsComplete(t *testing.T) {
	c := Config{Root: filepath.Join("..", ".."), ToolsDir: t.TempDir()}
	built := map[string]bool{debianRef: true}
	for _, img := range Set(c) {
		built[img.Ref] = true
		if _, err := os.Stat(filepath.Join(c.Root, "hack", "offline", "images", img.Dir, "Dockerfile")); err != nil {
			t.Errorf("%s: %v", img.Ref, err)
		}
		for _, f := range img.From {
			if !built[f] {
				t.Errorf("%s is built on %s, which the set builds later or never", img.Ref, f)
			}
		}
	}
	for _, ref := range append(NodeImports(), append(StandIns, EdgeImage)...) {
		if !built[ref] {
			t.Errorf("%s is imported or loaded but never built", ref)
		}
	}
}

// Every base image of services/Dockerfile, for each service, is one the set
// builds under that exact name: an offline `make up` pulls nothing.
func TestSetBuildsTheServiceImageBases(t *testing.T) {
	c := Config{Root: filepath.Join("..", ".."), ToolsDir: t.TempDir()}
	built := map[string]bool{debianRef: true}
	for _, img := range Set(c) {
		built[img.Ref] = true
	}
	for _, svc := range []string{"account", "challenge"} {
		stages, err := dockercheck.ParseDockerfile(filepath.Join(c.Root, "services", "Dockerfile"), map[string]string{"SERVICE": svc})
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, st := range stages {
			if !names[st.Base] && !built[st.Base] {
				t.Errorf("%s: stage %s is built on %s, which hack/offline does not build", svc, st.Name, st.Base)
			}
			names[st.Name] = true
		}
	}
}
