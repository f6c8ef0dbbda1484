package offline

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/progressive-overload/po/hack/dockerengine"
)

// debianRef is the debootstrap'd base, under the name services/Dockerfile and the
// stand-ins build on (the official debian:bookworm-slim is the same minbase).
var debianRef = "debian:" + DebianSuite + "-slim"

// HostMirror reads the Debian mirror from this host's apt sources (deb822
// .sources files or sources.list), so that debootstrap uses the one apt uses.
func HostMirror() (string, error) {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	files = append(files, "/etc/apt/sources.list")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if m := MirrorFrom(string(b)); m != "" {
			return m, nil
		}
	}
	return "", fmt.Errorf("no Debian mirror in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list: set one with -mirror")
}

// MirrorFrom finds the first main-archive URI (not the security archive) in an apt
// source file of either format.
func MirrorFrom(src string) string {
	sc := bufio.NewScanner(strings.NewReader(src))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		var uris []string
		switch {
		case len(f) >= 2 && f[0] == "URIs:":
			uris = f[1:]
		case len(f) >= 3 && f[0] == "deb":
			u := f[1]
			if strings.HasPrefix(u, "[") { // deb [options] uri suite
				for i, x := range f {
					if strings.HasSuffix(x, "]") && i+1 < len(f) {
						u = f[i+1]
						break
					}
				}
			}
			uris = []string{u}
		}
		for _, u := range uris {
			if !strings.Contains(u, "security") {
				return u
			}
		}
	}
	return ""
}

func (b *Builder) ensureDebian(ctx context.Context) error {
	mirror := b.Mirror
	if mirror == "" {
		m, err := HostMirror()
		if err != nil {
			return err
		}
		mirror = m
	}
	key := fmt.Sprintf("debootstrap-minbase-%s-%x", DebianSuite, shortHash(mirror))
	if b.label(ctx, debianRef) == key {
		return nil
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		fmt.Fprintln(b.Log, "installing debootstrap (it builds the Debian base)")
		if err := dockerengine.AptInstall(ctx, b.Log, "debootstrap"); err != nil {
			return err
		}
	}
	fmt.Fprintf(b.Log, "==> debootstrap %s (minbase) into a new image %s\n", DebianSuite, debianRef)
	t0 := time.Now()
	dir, err := os.MkdirTemp("", "po-offline-debian-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase", DebianSuite, dir, mirror)
	cmd.Stdout, cmd.Stderr = b.Log, b.Log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("debootstrap: %w", err)
	}
	// As the official slim image: no apt caches, no docs.
	_ = os.RemoveAll(filepath.Join(dir, "var", "cache", "apt", "archives"))
	_ = os.RemoveAll(filepath.Join(dir, "var", "lib", "apt", "lists"))
	tar := exec.CommandContext(ctx, "tar", "-C", dir, "-c", ".")
	imp := exec.CommandContext(ctx, b.Docker, "import", "--change", `CMD ["bash"]`,
		"--change", "LABEL "+KeyLabel+"="+key, "-", debianRef)
	pipe, err := tar.StdoutPipe()
	if err != nil {
		return err
	}
	imp.Stdin, imp.Stdout, imp.Stderr, tar.Stderr = pipe, b.Log, b.Log, b.Log
	if err := tar.Start(); err != nil {
		return err
	}
	if err := imp.Run(); err != nil {
		_ = tar.Wait()
		return fmt.Errorf("docker import: %w", err)
	}
	if err := tar.Wait(); err != nil {
		return err
	}
	b.built++
	fmt.Fprintf(b.Log, "built %s in %s\n", debianRef, time.Since(t0).Round(time.Second))
	return nil
}

func shortHash(s string) []byte {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return []byte(fmt.Sprintf("%016x", h))[:8]
}

// ensureNode assembles the node image the way `kind build node-image` does, minus
// the pulls: stage two runs privileged with its own containerd, every image of
// NodeImports is imported into it, and the container is committed with kind's
// entrypoint.
func (b *Builder) ensureNode(ctx context.Context) error {
	stage := "po-offline/kind-node-stage2:build"
	ids := []string{}
	for _, ref := range append([]string{stage}, NodeImports()...) {
		id, err := b.imageID(ctx, ref)
		if err != nil {
			return err
		}
		ids = append(ids, ref+"="+id)
	}
	key := fmt.Sprintf("%x", shortHash(strings.Join(ids, ",")))
	if b.label(ctx, NodeImage) == key {
		return nil
	}
	fmt.Fprintf(b.Log, "==> assembling %s\n", NodeImage)
	t0 := time.Now()
	dir, err := os.MkdirTemp("", "po-offline-node-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for i, ref := range NodeImports() {
		if err := b.docker(ctx, "save", "-o", filepath.Join(dir, fmt.Sprintf("%02d.tar", i)), ref).Run(); err != nil {
			return fmt.Errorf("docker save %s: %w", ref, err)
		}
	}
	name := fmt.Sprintf("po-offline-nodebuild-%d", os.Getpid())
	if err := b.docker(ctx, "run", "-d", "--name", name, "--privileged", "--entrypoint", "sleep",
		"-v", dir+":/images:ro", stage, "infinity").Run(); err != nil {
		return err
	}
	// Removed whatever happens: a failed build leaves no container behind.
	defer func() { _ = exec.Command(b.Docker, "rm", "-f", name).Run() }()
	exe := func(args ...string) *exec.Cmd { return b.docker(ctx, append([]string{"exec", name}, args...)...) }
	if err := exe("sh", "-c", "nohup containerd >/tmp/containerd.log 2>&1 &").Run(); err != nil {
		return err
	}
	// Importing before containerd answers left an image without its name once.
	ready := false
	for i := 0; i < 60 && !ready; i++ {
		ready = exec.CommandContext(ctx, b.Docker, "exec", name, "ctr", "version").Run() == nil
		if !ready {
			time.Sleep(500 * time.Millisecond)
		}
	}
	if !ready {
		return fmt.Errorf("containerd in the build container did not answer")
	}
	for i := range NodeImports() {
		f := fmt.Sprintf("/images/%02d.tar", i)
		if err := exe("ctr", "-n", "k8s.io", "images", "import", "--no-unpack", "--all-platforms", "--digests", f).Run(); err != nil {
			return fmt.Errorf("ctr import %s: %w", f, err)
		}
	}
	out, err := exec.CommandContext(ctx, b.Docker, "exec", name, "ctr", "-n", "k8s.io", "images", "ls", "-q").Output()
	if err != nil {
		return err
	}
	if missing := MissingImports(strings.Fields(string(out)), NodeImports()); len(missing) > 0 {
		return fmt.Errorf("not imported into the node: %v", missing)
	}
	_ = exe("sh", "-c", "kill $(pidof containerd); sleep 2; rm -rf /tmp/*").Run()
	// Docker 20.10 refuses `--change STOPSIGNAL`; stage two has kind's already.
	if err := b.docker(ctx, "commit",
		"--change", `ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]`,
		"--change", "ENV container=docker",
		"--change", "CMD []",
		"--change", "LABEL "+KeyLabel+"="+key,
		name, NodeImage).Run(); err != nil {
		return err
	}
	b.built++
	fmt.Fprintf(b.Log, "assembled %s in %s\n", NodeImage, time.Since(t0).Round(time.Second))
	return nil
}

// MissingImports lists the wanted references that containerd does not list,
// comparing fully qualified names (docker.io/library/ for short ones).
func MissingImports(listed, wanted []string) []string {
	have := map[string]bool{}
	for _, l := range listed {
		have[l] = true
	}
	var missing []string
	for _, w := range wanted {
		if !have[Qualify(w)] {
			missing = append(missing, w)
		}
	}
	sort.Strings(missing)
	return missing
}

// Qualify gives a reference the full name containerd stores it under.
func Qualify(ref string) string {
	first, _, found := strings.Cut(ref, "/")
	switch {
	case !found:
		return "docker.io/library/" + ref
	case !strings.ContainsAny(first, ".:") && first != "localhost":
		return "docker.io/" + ref
	}
	return ref
}
