// Package dockerengine gives the cluster tooling a Docker engine on demand.
//
// Where an engine answers, it is used as it is and never reconfigured. Where none
// answers and we are root on Debian or Ubuntu, Debian's docker.io is installed if
// missing and dockerd is started in the background with a configuration and data
// root of its own under the state directory (~/.cache/po-tools/docker-engine), so
// that nothing under /etc changes and the images built into it stay cached across
// runs. If this host's capability bounding set lacks a capability Docker grants to
// privileged containers (kind's nodes are privileged), the engine gets
// runc-capstrip (hack/capstrip) as its default runtime. An engine started here is
// stopped by Stop (`make down`), by its pid file.
package dockerengine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/progressive-overload/po/hack/capstrip"
)

// Engine is an engine that answers.
type Engine struct {
	Version string // the server's version
	Started bool   // started by this call (not already running)
	// Client is the docker CLI that matches the server: Debian's engine is
	// 20.10, whose BuildKit the 28.x client in /usr/local/bin cannot drive.
	Client string
}

// Options of Ensure.
type Options struct {
	StateDir string    // default $PO_TOOLS_DIR/docker-engine ($PO_TOOLS_DIR: ~/.cache/po-tools)
	RepoRoot string    // this repository (runc-capstrip is built from it)
	Log      io.Writer // progress
	// StartTimeout bounds how long a started engine may take to answer.
	StartTimeout time.Duration
}

func (o *Options) defaults() error {
	if o.StateDir == "" {
		tools := os.Getenv("PO_TOOLS_DIR") // the tool cache of hack/make/cluster.mk
		if tools == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return err
			}
			tools = filepath.Join(home, ".cache", "po-tools")
		}
		o.StateDir = filepath.Join(tools, "docker-engine")
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 90 * time.Second
	}
	return nil
}

// Client picks the docker CLI: Debian's /usr/bin/docker where it exists (it
// matches Debian's engine), else `docker` on PATH.
func Client() string {
	if _, err := os.Stat("/usr/bin/docker"); err == nil {
		return "/usr/bin/docker"
	}
	return "docker"
}

// ServerVersion asks the engine for its version; an error means none answers.
func ServerVersion(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, Client(), "version", "--format", "{{.Server.Version}}")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("docker version: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// Ensure returns an engine that answers, starting one if needed (see the package
// comment).
func Ensure(ctx context.Context, o Options) (*Engine, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if v, err := ServerVersion(ctx); err == nil {
		return &Engine{Version: v, Client: Client()}, nil
	} else if _, statErr := os.Stat(pidFile(o)); statErr == nil {
		// Ours, but not answering: a crash or a reboot. Start it again.
		fmt.Fprintf(o.Log, "docker engine from %s does not answer (%v); restarting it\n", o.StateDir, err)
	}
	if os.Geteuid() != 0 || !debianLike() {
		return nil, errors.New("no Docker engine answers, and this is not root on Debian or Ubuntu, where it could be installed: install Docker and start it (https://docs.docker.com/engine/install/)")
	}
	if _, err := exec.LookPath("dockerd"); err != nil {
		fmt.Fprintln(o.Log, "installing Debian's docker.io (no Docker engine found)")
		if err := AptInstall(ctx, o.Log, "docker.io"); err != nil {
			return nil, err
		}
	}
	if err := start(ctx, o); err != nil {
		return nil, err
	}
	v, err := ServerVersion(ctx)
	if err != nil {
		return nil, err
	}
	return &Engine{Version: v, Started: true, Client: Client()}, nil
}

// Stop stops an engine that Ensure started (found by its pid file), waiting for it
// to exit; it does nothing when the engine was not started by us.
func Stop(ctx context.Context, o Options) error {
	if err := o.defaults(); err != nil {
		return err
	}
	b, err := os.ReadFile(pidFile(o))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("%s: %w", pidFile(o), err)
	}
	if !isDockerd(pid) {
		// A stale file (the engine died, or a reboot): nothing of ours runs.
		return os.Remove(pidFile(o))
	}
	fmt.Fprintf(o.Log, "stopping the docker engine started by po (pid %d)\n", pid)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for isDockerd(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	_ = os.Remove(pidFile(o))
	return nil
}

func pidFile(o Options) string { return filepath.Join(o.StateDir, "dockerd.pid") }

func isDockerd(pid int) bool {
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return err == nil && strings.TrimSpace(string(comm)) == "dockerd"
}

func debianLike() bool {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return false
	}
	s := string(b)
	return strings.Contains(s, "ID=debian") || strings.Contains(s, "ID=ubuntu") || strings.Contains(s, "ID_LIKE=debian")
}

// AptInstall installs Debian packages (root on Debian or Ubuntu only).
func AptInstall(ctx context.Context, log io.Writer, pkgs ...string) error {
	if os.Geteuid() != 0 || !debianLike() {
		return fmt.Errorf("%s is needed: install it (this is not root on Debian or Ubuntu, where it could be installed here)", strings.Join(pkgs, ", "))
	}
	for _, argv := range [][]string{{"apt-get", "update", "-q"}, append([]string{"apt-get", "install", "-y", "-q", "--no-install-recommends"}, pkgs...)} {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
		}
	}
	return nil
}

// DaemonConfig is the engine's configuration: the data root under the state
// directory and, where runtime is set, that runtime as the default.
func DaemonConfig(dataRoot, runtime string) ([]byte, error) {
	cfg := map[string]any{
		"data-root":      dataRoot,
		"storage-driver": "overlay2",
		// kind's nodes and the images built for them log to the engine: bound it.
		"log-driver": "json-file",
		"log-opts":   map[string]string{"max-size": "10m", "max-file": "2"},
	}
	if runtime != "" {
		cfg["runtimes"] = map[string]any{"runc-capstrip": map[string]string{"path": runtime}}
		cfg["default-runtime"] = "runc-capstrip"
	}
	return json.MarshalIndent(cfg, "", "  ")
}

// NeedsCapStrip reports the capabilities Docker would grant a privileged
// container that this host's bounding set lacks.
func NeedsCapStrip() ([]string, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	mask, err := capstrip.Bounding(f)
	if err != nil {
		return nil, err
	}
	return capstrip.Missing(mask), nil
}

func start(ctx context.Context, o Options) error {
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return err
	}
	missing, err := NeedsCapStrip()
	if err != nil {
		return err
	}
	runtime := ""
	if len(missing) > 0 {
		runtime = filepath.Join(o.StateDir, "runc-capstrip")
		fmt.Fprintf(o.Log, "this host's capability bounding set lacks %s: privileged containers get runc-capstrip as their runtime\n", strings.Join(missing, ", "))
		if err := buildCapStrip(ctx, o.RepoRoot, runtime, o.Log); err != nil {
			return err
		}
	}
	cfg, err := DaemonConfig(filepath.Join(o.StateDir, "data"), runtime)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(o.StateDir, "daemon.json")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(o.StateDir, "dockerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	// Its own session and process group: the engine outlives this command (make
	// up leaves it running for the user) and a Ctrl-C here does not reach it.
	cmd := exec.Command("dockerd", "--config-file", cfgPath, "--pidfile", pidFile(o))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting dockerd: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fmt.Fprintf(o.Log, "started dockerd (pid %d, log %s)\n", cmd.Process.Pid, logf.Name())
	deadline := time.Now().Add(o.StartTimeout)
	for {
		if _, err := ServerVersion(ctx); err == nil {
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("dockerd exited (%v); see %s", err, logf.Name())
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return fmt.Errorf("dockerd did not answer within %s; see %s", o.StartTimeout, logf.Name())
		}
	}
}

// buildCapStrip builds hack/cmd/runc-capstrip from this repository into path.
func buildCapStrip(ctx context.Context, root, path string, log io.Writer) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", path+".tmp", "./cmd/runc-capstrip")
	cmd.Dir = filepath.Join(root, "hack")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building runc-capstrip: %w", err)
	}
	return os.Rename(path+".tmp", path)
}
