// Package offline builds, here and from nothing but Debian's packages and the Go
// module proxy, every image a kind cluster of this project needs where no image
// registry can be reached: a Debian base (debootstrap), the base images of
// services/Dockerfile under their exact names (golang, distroless, debian), the
// Kubernetes control-plane images kubeadm runs, and a kind node image that holds
// them, plus stand-ins for the chart's MySQL, Redis, RabbitMQ and Prometheus.
//
// Each image carries a label with the hash of everything it is built from (its
// context, the binaries copied in, the images it is built on), so a warm run finds
// every image current and builds nothing. The binaries come from the version-keyed
// tool cache (~/.cache/po-tools, hack/make/cluster.mk).
//
// A stand-in keeps the interface the chart relies on (environment, paths, user,
// probe commands) and is selected by k8s/values-offline.yaml only; the chart's
// defaults keep the official images. docs/deploy.md lists them.
package offline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// KeyLabel holds an image's input hash.
const KeyLabel = "org.progressive-overload.offline-key"

// Versions of what the images hold; the tool cache is keyed by the same.
const (
	KubernetesVersion = "v1.32.13"
	EtcdImageTag      = "3.5.24-0"
	CoreDNSVersion    = "v1.11.3"
	PauseVersion      = "3.10"
	LocalPathVersion  = "v0.0.30"
	DebianSuite       = "bookworm"
)

// NodeImage is the kind node image this package assembles.
const NodeImage = "po-offline/kind-node:" + KubernetesVersion

// Config says where things are.
type Config struct {
	Root     string // repository root
	ToolsDir string // the tool cache (binaries built by hack/make/cluster.mk)
	Docker   string // docker CLI
	Log      io.Writer
	// Mirror is the Debian mirror for debootstrap; empty: the host's apt source.
	Mirror string
}

func (c Config) tool(name, version, bin string) string {
	return filepath.Join(c.ToolsDir, name+"-"+version, bin)
}

// Image is one image of the set.
type Image struct {
	Ref  string   // tag it is known by
	Also []string // further tags
	Dir  string   // context under hack/offline/images
	// ContextDir, where set, is the context instead (an image of another
	// package built the same way, e.g. hack/freshtest's).
	ContextDir string
	// Copy puts files or trees into the context: context path -> source path.
	Copy map[string]string
	// Generate writes further context files.
	Generate func(ctxDir string) error
	From     []string // images it is built on (their IDs enter the key)
	Classic  bool     // the classic builder (no BuildKit features needed)
}

// EdgeImage stands in for haproxy:2.6 in make kind-test (not a chart dependency).
const EdgeImage = "po-offline/haproxy:2.6"

// StandIns are the chart's dependency images (selected by k8s/values-offline.yaml).
var StandIns = []string{
	"po-offline/mysql:8.4", "po-offline/redis:7.4", "po-offline/rabbitmq:3.13-management",
	"po-offline/prometheus:v3.5.0",
}

// Set lists the images in build order (every image after those it is built on).
func Set(c Config) []Image {
	k := func(bin string) string { return c.tool("kubernetes", KubernetesVersion, bin) }
	static := func(ref, src string) Image {
		return Image{Ref: ref, Dir: "static-binary", Copy: map[string]string{"bin/" + filepath.Base(src): src}, Classic: true}
	}
	goroot := strings.TrimSpace(run(exec.Command("go", "env", "GOROOT")))
	deb := []string{"debian:" + DebianSuite + "-slim"}
	kubeBase := "registry.k8s.io/"
	return []Image{
		{Ref: "golang:1.26", Dir: "golang", Copy: map[string]string{"go": goroot}, From: deb, Classic: true,
			Generate: hostCAs},
		{Ref: "gcr.io/distroless/static-debian12:nonroot", Dir: "distroless", From: deb, Classic: true},
		static(kubeBase+"kube-apiserver:"+KubernetesVersion, k("kube-apiserver")),
		static(kubeBase+"kube-controller-manager:"+KubernetesVersion, k("kube-controller-manager")),
		static(kubeBase+"kube-scheduler:"+KubernetesVersion, k("kube-scheduler")),
		static(kubeBase+"etcd:"+EtcdImageTag, c.tool("etcd", "v3.5.24", "etcd")),
		{Ref: kubeBase + "kube-proxy:" + KubernetesVersion, Dir: "kube-proxy", Copy: map[string]string{"bin/kube-proxy": k("kube-proxy")}, From: deb, Classic: true},
		{Ref: kubeBase + "coredns/coredns:" + CoreDNSVersion, Dir: "coredns", Copy: map[string]string{"bin/coredns": c.tool("coredns", CoreDNSVersion, "coredns")}, Classic: true},
		{Ref: kubeBase + "pause:" + PauseVersion, Dir: "pause", Classic: true, Generate: func(dir string) error {
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(dir, "bin", "pause"), "./offline/pause")
			cmd.Dir = filepath.Join(c.Root, "hack")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("building pause: %v: %s", err, out)
			}
			return nil
		}},
		static("po-offline/local-path-provisioner:"+LocalPathVersion, c.tool("local-path-provisioner", LocalPathVersion, "local-path-provisioner")),
		{Ref: "po-offline/kind-node-base:build", Dir: "node-base", From: deb, Classic: true,
			Copy: map[string]string{"files": filepath.Join(kindModuleDir(c), "images", "base", "files")},
			Generate: func(dir string) error {
				return writeContainerdConfig(filepath.Join(kindModuleDir(c), "images", "base", "files", "etc", "containerd", "config.toml"),
					filepath.Join(dir, "containerd-config.toml"))
			}},
		{Ref: "po-offline/kind-node-stage2:build", Dir: "node", From: []string{"po-offline/kind-node-base:build"}, Classic: true,
			Copy: map[string]string{"bin/kubelet": k("kubelet"), "bin/kubeadm": k("kubeadm"), "bin/kubectl": k("kubectl")},
			Generate: func(dir string) error {
				return os.WriteFile(filepath.Join(dir, "rootfs", "kind", "version"), []byte(KubernetesVersion+"\n"), 0o644)
			}},
		{Ref: "po-offline/mysql:8.4", Dir: "mysql", From: deb, Classic: true},
		{Ref: "po-offline/redis:7.4", Dir: "redis", From: deb, Classic: true},
		{Ref: "po-offline/rabbitmq:3.13-management", Dir: "rabbitmq", From: deb, Classic: true},
		{Ref: "po-offline/prometheus:v3.5.0", Dir: "prometheus", From: deb, Classic: true},
		{Ref: EdgeImage, Dir: "haproxy", From: deb, Classic: true},
	}
}

// NodeImports are the images the node's containerd holds before kubeadm runs:
// kubeadm's own list (`kubeadm config images list`), the storage provisioner and
// its helper.
func NodeImports() []string {
	kubeBase := "registry.k8s.io/"
	return []string{
		kubeBase + "kube-apiserver:" + KubernetesVersion,
		kubeBase + "kube-controller-manager:" + KubernetesVersion,
		kubeBase + "kube-scheduler:" + KubernetesVersion,
		kubeBase + "kube-proxy:" + KubernetesVersion,
		kubeBase + "coredns/coredns:" + CoreDNSVersion,
		kubeBase + "pause:" + PauseVersion,
		kubeBase + "etcd:" + EtcdImageTag,
		"po-offline/local-path-provisioner:" + LocalPathVersion,
		"debian:" + DebianSuite + "-slim",
	}
}

func kindModuleDir(c Config) string {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kind")
	cmd.Dir = filepath.Join(c.Root, "hack")
	return strings.TrimSpace(run(cmd))
}

func run(cmd *exec.Cmd) string {
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return string(out)
}

// hostCAs puts this host's local certificate authorities
// (/usr/local/share/ca-certificates) into the context's local-ca/: the Go
// builder reaches the module proxy through whatever TLS the host trusts.
func hostCAs(dir string) error {
	dst := filepath.Join(dir, "local-ca")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	if _, err := os.Stat("/usr/local/share/ca-certificates"); err != nil {
		return nil
	}
	return copyTree("/usr/local/share/ca-certificates", dst)
}

// writeContainerdConfig turns kind's containerd configuration into the offline
// node's: no fuse-overlayfs proxy plugin (not installed), and
// restrict_oom_score_adj = true, without which runc cannot start a pod sandbox on a
// host lacking CAP_SYS_RESOURCE.
func writeContainerdConfig(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	out, err := ContainerdConfig(string(b))
	if err != nil {
		return err
	}
	return os.WriteFile(dst, []byte(out), 0o644)
}

// ContainerdConfig edits kind's containerd config.toml (see writeContainerdConfig).
func ContainerdConfig(in string) (string, error) {
	var out []string
	skipping, sawOOM := false, false
	for _, line := range strings.Split(in, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") {
			skipping = strings.HasPrefix(t, "[proxy_plugins")
		}
		if skipping {
			continue
		}
		if strings.HasPrefix(t, "restrict_oom_score_adj") {
			line, sawOOM = "  restrict_oom_score_adj = true", true
		}
		out = append(out, line)
	}
	if !sawOOM {
		return "", fmt.Errorf("kind's containerd config has no restrict_oom_score_adj line: check the kind version")
	}
	return strings.Join(out, "\n"), nil
}

// Key hashes an image's inputs: its context as it will be built, its tags and the
// IDs of the images it is built on.
func Key(ctxDir string, img Image, parentIDs []string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "ref %s also %v classic %v\n", img.Ref, img.Also, img.Classic)
	for _, id := range parentIDs {
		fmt.Fprintf(h, "from %s\n", id)
	}
	var paths []string
	err := filepath.WalkDir(ctxDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(paths)
	for _, p := range paths {
		rel, _ := filepath.Rel(ctxDir, p)
		st, err := os.Lstat(p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "file %s %o\n", rel, st.Mode())
		if st.Mode()&fs.ModeSymlink != 0 {
			t, _ := os.Readlink(p)
			fmt.Fprintf(h, "-> %s\n", t)
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

// Builder builds the set.
type Builder struct {
	Config
	built int
}

// Ensure builds every image that is missing or whose inputs changed, then the node
// image; it reports how many it built.
func (b *Builder) Ensure(ctx context.Context) (int, error) {
	start := time.Now()
	if err := b.ensureDebian(ctx); err != nil {
		return b.built, fmt.Errorf("debian base: %w", err)
	}
	for _, img := range Set(b.Config) {
		if err := b.ensureImage(ctx, img); err != nil {
			return b.built, fmt.Errorf("%s: %w", img.Ref, err)
		}
	}
	if err := b.ensureNode(ctx); err != nil {
		return b.built, fmt.Errorf("node image: %w", err)
	}
	fmt.Fprintf(b.Log, "offline images: %d built, the rest current (%s)\n", b.built, time.Since(start).Round(time.Second))
	return b.built, nil
}

// EnsureDebian builds the Debian base (debian:bookworm-slim, debootstrapped from
// the host's mirror) unless it is current.
func (b *Builder) EnsureDebian(ctx context.Context) error { return b.ensureDebian(ctx) }

// EnsureImage builds img unless it is current (its key label matches).
func (b *Builder) EnsureImage(ctx context.Context, img Image) error { return b.ensureImage(ctx, img) }

// HostCAs copies this host's local certificate authorities into dir/local-ca
// (an Image's Generate; see the golang stand-in).
func HostCAs(dir string) error { return hostCAs(dir) }

// CopyTree copies a file or a directory tree, keeping modes and links.
func CopyTree(src, dst string) error { return copyTree(src, dst) }

func (b *Builder) docker(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, b.Docker, args...)
	cmd.Stdout, cmd.Stderr = b.Log, b.Log
	return cmd
}

// label reads an image's key label; "" if the image is missing.
func (b *Builder) label(ctx context.Context, ref string) string {
	out, err := exec.CommandContext(ctx, b.Docker, "image", "inspect", "--format",
		`{{index .Config.Labels "`+KeyLabel+`"}}`, ref).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func (b *Builder) imageID(ctx context.Context, ref string) (string, error) {
	out, err := exec.CommandContext(ctx, b.Docker, "image", "inspect", "--format", "{{.Id}}", ref).Output()
	if err != nil {
		return "", fmt.Errorf("image %s is missing", ref)
	}
	return strings.TrimSpace(string(out)), nil
}

func (b *Builder) ensureImage(ctx context.Context, img Image) error {
	tmp, err := os.MkdirTemp("", "po-offline-ctx-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	ctxDir := filepath.Join(b.Root, "hack", "offline", "images", img.Dir)
	if img.ContextDir != "" {
		ctxDir = img.ContextDir
	}
	if err := copyTree(ctxDir, tmp); err != nil {
		return err
	}
	for dst, src := range img.Copy {
		if _, err := os.Stat(src); err != nil {
			return fmt.Errorf("input missing (build the tools first: make offline-tools): %w", err)
		}
		if err := copyTree(src, filepath.Join(tmp, dst)); err != nil {
			return err
		}
	}
	if img.Generate != nil {
		if err := img.Generate(tmp); err != nil {
			return err
		}
	}
	var parents []string
	for _, f := range img.From {
		id, err := b.imageID(ctx, f)
		if err != nil {
			return err
		}
		parents = append(parents, id)
	}
	key, err := Key(tmp, img, parents)
	if err != nil {
		return err
	}
	if b.label(ctx, img.Ref) == key {
		return nil
	}
	fmt.Fprintf(b.Log, "==> building %s\n", img.Ref)
	t0 := time.Now()
	args := []string{"build", "--label", KeyLabel + "=" + key, "-t", img.Ref}
	for _, a := range img.Also {
		args = append(args, "-t", a)
	}
	cmd := b.docker(ctx, append(args, tmp)...)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if !img.Classic {
		cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=1")
	}
	if err := cmd.Run(); err != nil {
		return err
	}
	b.built++
	fmt.Fprintf(b.Log, "built %s in %s\n", img.Ref, time.Since(t0).Round(time.Second))
	return nil
}

// copyTree copies a file or a directory tree (cp -a keeps modes and links).
func copyTree(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if st.IsDir() {
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
		src += "/."
	}
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("cp -a %s %s: %v: %s", src, dst, err, out)
	}
	// The module cache is read-only; the context must be writable (Generate, cleanup).
	return exec.Command("chmod", "-R", "u+w", dst).Run()
}
