//go:build fresh

package freshtest

// make fresh-test: see the package comment (readme.go). The container is
// removed at the end whatever happened; a Docker engine that this test started
// is stopped. Figures are logged, never asserted: the machine is shared.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/progressive-overload/po/hack/dockerengine"
	"github.com/progressive-overload/po/hack/offline"
	"github.com/progressive-overload/po/hack/reporoot"
)

// Image is the fresh machine's image (hack/freshtest/image).
const Image = "po-offline/fresh-machine:bookworm"

// label marks the test's containers.
const label = "org.progressive-overload.fresh-test"

type env struct {
	root, dir, docker string
	name, workdir     string
}

// deadlineCtx ends three minutes before the test's deadline, so that a step that
// hangs is killed and the cleanups (container, engine) still run.
func deadlineCtx(t *testing.T) context.Context {
	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-3*time.Minute))
		t.Cleanup(cancel)
	}
	return ctx
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// run runs a command, its output appended to the log file logName under the
// test's directory; on failure it returns the output's tail.
func (e *env) run(ctx context.Context, logName string, name string, args ...string) (string, error) {
	f, err := os.OpenFile(filepath.Join(e.dir, logName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var buf bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &multi{f, &buf}, &multi{f, &buf}
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	out := buf.String()
	if err != nil {
		tail := out
		if len(tail) > 6000 {
			tail = "…" + tail[len(tail)-6000:]
		}
		return out, fmt.Errorf("%s %s: %v; log %s:\n%s", name, strings.Join(args, " "), err, f.Name(), tail)
	}
	return out, nil
}

type multi struct {
	a, b interface{ Write([]byte) (int, error) }
}

func (m *multi) Write(p []byte) (int, error) {
	_, _ = m.a.Write(p)
	return m.b.Write(p)
}

// exec runs a bash command in the container, in the clone.
func (e *env) exec(ctx context.Context, logName, script string) (string, error) {
	return e.run(ctx, logName, e.docker, "exec", "-w", e.workdir, e.name, "bash", "-c", script)
}

func TestFreshMachine(t *testing.T) {
	ctx := deadlineCtx(t)
	e := &env{root: reporoot.Dir(), dir: os.Getenv("FRESH_TEST_DIR")}
	if e.dir == "" {
		e.dir = t.TempDir()
	}
	readmeText, err := os.ReadFile(filepath.Join(e.root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := Parse(string(readmeText))
	if err != nil {
		t.Fatal(err)
	}

	e.docker = engine(t, ctx)

	// The image: Debian from the distribution's packages plus the README's
	// prerequisites, built once and found current after that.
	t0 := time.Now()
	logf, err := os.Create(filepath.Join(e.dir, "image.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	b := offline.Builder{Config: offline.Config{Root: e.root, Docker: e.docker, Log: logf}}
	if err := b.EnsureDebian(ctx); err != nil {
		t.Fatalf("debian base: %v (log %s)", err, logf.Name())
	}
	if err := b.EnsureImage(ctx, freshImage(e.root)); err != nil {
		t.Fatalf("%s: %v (log %s)", Image, err, logf.Name())
	}
	t.Logf("FIGURE the fresh machine's image built or found current: %s", time.Since(t0).Round(time.Second))

	// A clean clone of the commit under test.
	head, err := exec.Command("git", "-C", e.root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	commit := strings.TrimSpace(string(head))
	if st, _ := exec.Command("git", "-C", e.root, "status", "--porcelain").Output(); len(bytes.TrimSpace(st)) > 0 {
		t.Logf("the work tree has uncommitted changes: the container gets commit %s without them", commit)
	}
	src := filepath.Join(t.TempDir(), "po")
	if _, err := e.run(ctx, "clone.log", "git", "clone", "--quiet", "--no-local", e.root, src); err != nil {
		t.Fatal(err)
	}
	if _, err := e.run(ctx, "clone.log", "git", "-C", src, "checkout", "--quiet", "--detach", commit); err != nil {
		t.Fatal(err)
	}

	// The container: no network but the engine's bridge (Debian's mirror and the
	// Go module proxy through it), the clone where this checkout is (so that
	// build-cache keys, which hold package paths, match the host's), and, as
	// root, the host's Go build cache: compiling is bounded by it, while every
	// module must still be downloaded (go computes build keys from their source).
	e.name = "po-freshtest-" + randomHex(4)
	e.workdir = e.root
	args := []string{"run", "-d", "--name", e.name, "--label", label + "=1", "--hostname", "fresh"}
	// Debian's packages that make test installs, kept between runs (apt still
	// resolves, verifies and installs each; only the download is saved).
	if archives, err := aptArchives(); err == nil {
		args = append(args, "-v", archives+":/var/cache/apt/archives")
	} else {
		t.Logf("no apt archive cache: %v", err)
	}
	if os.Geteuid() == 0 {
		gocache, err := exec.Command("go", "env", "GOCACHE").Output()
		if err == nil && len(bytes.TrimSpace(gocache)) > 0 {
			args = append(args, "-v", strings.TrimSpace(string(gocache))+":/root/.cache/go-build")
		}
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(c, e.docker, "rm", "-f", "-v", e.name).CombinedOutput(); err != nil {
			t.Errorf("removing container %s: %v: %s", e.name, err, out)
		}
	})
	if _, err := e.run(ctx, "container.log", e.docker, append(args, Image, "sleep", "infinity")...); err != nil {
		t.Fatal(err)
	}
	if _, err := e.run(ctx, "container.log", e.docker, "exec", e.name, "mkdir", "-p", filepath.Dir(e.workdir), "/tmp/po-fresh"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.run(ctx, "container.log", e.docker, "cp", src, e.name+":"+e.workdir); err != nil {
		t.Fatal(err)
	}
	// Fresh indeed: none of the three, no module cache.
	if out, err := e.exec(ctx, "container.log", `for p in mariadbd redis-server rabbitmq-server rabbitmqctl; do
  if command -v $p; then echo "$p is installed"; exit 1; fi; done
test ! -e "$(go env GOMODCACHE)" || { echo "a module cache exists"; exit 1; }
git status --porcelain | grep . && { echo "the clone is not clean"; exit 1; }
go version`); err != nil {
		t.Fatalf("the container is not a fresh machine: %v", err)
	} else {
		t.Logf("container %s: %s, commit %s in %s", e.name, strings.TrimSpace(out), commit[:12], e.workdir)
	}

	// The quick start: every command but the last, in turn, as typed.
	for i, s := range readme.QuickStart[:len(readme.QuickStart)-1] {
		t0 := time.Now()
		out, err := e.exec(ctx, fmt.Sprintf("quickstart-%d.log", i+1), s.Command)
		if err != nil {
			t.Fatalf("quick start command %q: %v", s.Command, err)
		}
		t.Logf("FIGURE quick start %q: %s", s.Command, time.Since(t0).Round(time.Second))
		for _, m := range regexp.MustCompile(`ensure-deps: (installed .* in \d+ s|.* started on .*)`).FindAllStringSubmatch(out, -1) {
			t.Logf("  %s", m[1])
		}
	}

	// The last one serves; the walk-through runs against it; then Ctrl-C.
	serve := readme.QuickStart[len(readme.QuickStart)-1]
	driver := Driver(serve.Command, readme.WalkThrough, e.workdir)
	if err := os.WriteFile(filepath.Join(e.dir, "walkthrough.sh"), []byte(driver), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := e.run(ctx, "container.log", e.docker, "cp", filepath.Join(e.dir, "walkthrough.sh"), e.name+":/tmp/po-fresh/walkthrough.sh"); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	out, runErr := e.run(ctx, "walkthrough.log", e.docker, "exec", e.name, "bash", "/tmp/po-fresh/walkthrough.sh")
	runLog, _ := e.run(context.Background(), "container.log", e.docker, "exec", e.name, "cat", "/tmp/po-fresh/run.log")
	_ = os.WriteFile(filepath.Join(e.dir, "make-run.log"), []byte(runLog), 0o644)
	res := ParseDriverOutput(out)
	for k, v := range res.Times {
		t.Logf("FIGURE %s: %s", k, v.Round(100*time.Millisecond))
	}
	t.Logf("FIGURE %q with the walk-through, stopped: %s", serve.Command, time.Since(t0).Round(time.Second))
	if !res.Ready {
		t.Fatalf("%q did not get ready (both /readyz answering): %v\n%s\nits log:\n%s", serve.Command, runErr, out, tail(runLog, 4000))
	}
	for i, s := range readme.WalkThrough {
		r, ok := res.Steps[i+1]
		if !ok {
			t.Fatalf("walk-through command %d was not run:\n%s\n(%v)\nmake run's log:\n%s", i+1, s.Command, runErr, tail(runLog, 4000))
		}
		if r.Exit != 0 {
			t.Fatalf("walk-through command %d exited %d:\n%s\noutput:\n%s\nmake run's log:\n%s", i+1, r.Exit, s.Command, r.Output, tail(runLog, 4000))
		}
		if len(s.Expect) > 0 && !Matches(s.Expect, r.Output) {
			t.Errorf("walk-through command %d:\n%s\nprinted:\n%s\nthe README says:\n%s", i+1, s.Command, r.Output, strings.Join(s.Expect, "\n"))
		}
	}
	// Stopped cleanly: the signal's exit (Ctrl-C's, or 0), nothing left of its
	// process group, both ports closed, run.sh's own last word.
	if res.StopExit != 0 && res.StopExit != 130 {
		t.Errorf("%q exited %d after SIGINT (want 130, or 0)", serve.Command, res.StopExit)
	}
	if res.Left != "none" {
		t.Errorf("processes of %q still running after it exited: %s", serve.Command, res.Left)
	}
	if res.Listening != "none" {
		t.Errorf("still listening after %q stopped: %s", serve.Command, res.Listening)
	}
	if !strings.Contains(runLog, "run: stopped") {
		t.Errorf("%q's log does not end with its services stopped:\n%s", serve.Command, tail(runLog, 3000))
	}
	if runErr != nil {
		t.Errorf("the walk-through driver: %v", runErr)
	}
}

// aptArchives is the directory of cached .deb files under the tool cache
// ($PO_TOOLS_DIR, default ~/.cache/po-tools): the file names carry the versions.
func aptArchives() (string, error) {
	tools := os.Getenv("PO_TOOLS_DIR")
	if tools == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		tools = filepath.Join(home, ".cache", "po-tools")
	}
	dir := filepath.Join(tools, "fresh-test-apt-archives")
	return dir, os.MkdirAll(filepath.Join(dir, "partial"), 0o755)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

func freshImage(root string) offline.Image {
	return offline.Image{
		Ref:        Image,
		ContextDir: filepath.Join(root, "hack", "freshtest", "image"),
		From:       []string{"debian:" + offline.DebianSuite + "-slim"},
		Classic:    true,
		Generate: func(dir string) error {
			if err := offline.HostCAs(dir); err != nil {
				return err
			}
			goroot, err := exec.Command("go", "env", "GOROOT").Output()
			if err != nil {
				return err
			}
			if err := offline.CopyTree(strings.TrimSpace(string(goroot)), filepath.Join(dir, "go")); err != nil {
				return err
			}
			return HostAptSources(filepath.Join(dir, "apt-sources"))
		},
	}
}

// HostAptSources copies this host's enabled apt sources (sources.list and
// sources.list.d's *.list and *.sources) into dir.
func HostAptSources(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	lists, _ := filepath.Glob("/etc/apt/sources.list.d/*.list")
	files = append(files, lists...)
	if _, err := os.Stat("/etc/apt/sources.list"); err == nil {
		files = append(files, "/etc/apt/sources.list")
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		name := filepath.Base(f)
		if name == "sources.list" {
			name = "host.list"
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("this host has no apt sources in /etc/apt")
	}
	return nil
}

// The Docker engine of both tests: the one that answers, or one started here
// (hack/dockerengine) and stopped by TestMain once both are done.
var (
	engineOnce    sync.Once
	engineClient  string
	engineErr     error
	engineStarted bool
	engineOpts    = dockerengine.Options{RepoRoot: reporoot.Dir(), Log: os.Stderr}
)

func engine(t *testing.T, ctx context.Context) string {
	t.Helper()
	engineOnce.Do(func() {
		eng, err := dockerengine.Ensure(ctx, engineOpts)
		if err != nil {
			engineErr = err
			return
		}
		engineClient, engineStarted = eng.Client, eng.Started
	})
	if engineErr != nil {
		t.Fatal(engineErr)
	}
	return engineClient
}

func TestMain(m *testing.M) {
	code := m.Run()
	if engineStarted {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		if err := dockerengine.Stop(ctx, engineOpts); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the docker engine these tests started:", err)
			code = 1
		}
		cancel()
	}
	os.Exit(code)
}
