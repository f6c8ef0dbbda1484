// Package cluster implements `make up` / `make down`: a kind cluster (through
// sigs.k8s.io/kind as a library), the service images built and loaded into it,
// the dev Secrets, and `helm upgrade --install --wait` of the chart (through
// Helm's library). Every step is idempotent: running `up` twice reuses the
// cluster, rebuilds images (same content, same tag: no rollout) and upgrades the
// release in place.
//
// What runs is first planned as a list of Steps, which is what the unit tests
// check (no Docker needed); Execute then carries them out.
package cluster

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/progressive-overload/po/hack/offline"
)

// Config is what `po-cluster` is told on its command line.
type Config struct {
	Command     string        // up, down, plan
	Name        string        // kind cluster name
	KindConfig  string        // kind cluster config file
	Namespace   string        // namespace of the release
	Release     string        // Helm release name
	Chart       string        // chart directory
	Values      []string      // values files, in order
	DevSecrets  string        // dev Secrets file (hack/devsecrets)
	Kubeconfig  string        // where the cluster's kubeconfig is written
	Services    []string      // services to build
	ImagePrefix string        // repository prefix of the service images
	Build       bool          // build and load images
	Wait        time.Duration // helm --wait timeout
	Root        string        // repository root (build context)
	// Offline: no image registry is reachable. Every image is built here
	// (hack/offline): the node image, the base images of services/Dockerfile and
	// the chart's stand-ins, which k8s/values-offline.yaml selects.
	Offline   bool
	NodeImage string   // kind node image; empty: kind's default (offline: hack/offline's)
	StandIns  []string // images loaded beside the services' (offline)
	ToolsDir  string   // the version-keyed tool cache (binaries for the offline images)
	Version   string   // stamped into the service binaries (a new version: new images, a rollout)
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// Parse reads `po-cluster <up|down|plan> [flags]` with paths relative to root.
func Parse(args []string, root string, stderr io.Writer) (Config, error) {
	c := Config{Root: root}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return c, fmt.Errorf("usage: po-cluster <up|down|plan> [flags]")
	}
	c.Command = args[0]
	switch c.Command {
	case "up", "down", "plan":
	default:
		return c, fmt.Errorf("unknown command %q (want up, down or plan)", c.Command)
	}
	fs := flag.NewFlagSet("po-cluster "+c.Command, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Name, "name", "po", "kind cluster name")
	fs.StringVar(&c.KindConfig, "kind-config", "k8s/kind-config.yaml", "kind cluster config")
	fs.StringVar(&c.Namespace, "namespace", "po", "namespace of the release")
	fs.StringVar(&c.Release, "release", "po", "Helm release name")
	fs.StringVar(&c.Chart, "chart", "charts/progressive-overload", "chart directory")
	var values listFlag
	fs.Var(&values, "values", "values file (repeatable; default k8s/values-kind.yaml)")
	fs.StringVar(&c.DevSecrets, "dev-secrets", ".dev/k8s/dev-secrets.yaml", "dev Secrets file, created once")
	fs.StringVar(&c.Kubeconfig, "kubeconfig", ".dev/k8s/kubeconfig", "where to write the cluster's kubeconfig")
	services := fs.String("services", "account,challenge", "services to build, comma separated")
	fs.StringVar(&c.ImagePrefix, "image-prefix", "progressive-overload/", "repository prefix of the service images")
	fs.BoolVar(&c.Build, "build", true, "build the images and load them into kind")
	fs.DurationVar(&c.Wait, "wait", 10*time.Minute, "how long helm waits for the release to become ready")
	fs.BoolVar(&c.Offline, "offline", false, "build every image here (no registry reachable): node image, base images, stand-ins (hack/offline)")
	fs.StringVar(&c.Version, "version", "dev", "version stamped into the service images (another value rolls the pods)")
	fs.StringVar(&c.ToolsDir, "tools-dir", defaultToolsDir(), "tool cache the offline images take their binaries from ($PO_TOOLS_DIR)")
	fs.StringVar(&c.NodeImage, "node-image", "", "kind node image (default: kind's own; with -offline, the one hack/offline builds)")
	if err := fs.Parse(args[1:]); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	if len(values) == 0 {
		values = listFlag{"k8s/values-kind.yaml"}
		if c.Offline {
			values = append(values, "k8s/values-offline.yaml")
		}
	}
	if c.Offline {
		if c.NodeImage == "" {
			c.NodeImage = offline.NodeImage
		}
		c.StandIns = offline.StandIns
	}
	c.Values = values
	c.Services = nil
	for _, s := range strings.Split(*services, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.Services = append(c.Services, s)
		}
	}
	if c.Build && len(c.Services) == 0 {
		return c, fmt.Errorf("-services is empty")
	}
	if c.Wait <= 0 {
		return c, fmt.Errorf("-wait must be positive")
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(root, p)
	}
	c.KindConfig, c.Chart, c.DevSecrets, c.Kubeconfig = abs(c.KindConfig), abs(c.Chart), abs(c.DevSecrets), abs(c.Kubeconfig)
	for i := range c.Values {
		c.Values[i] = abs(c.Values[i])
	}
	return c, nil
}

// StepKind says what a Step does.
type StepKind string

// The kinds of step.
const (
	CheckTools    StepKind = "check-tools"    // Args: required tools; Optional: wanted ones
	BuildOffline  StepKind = "offline-images" // hack/offline: every image, built here
	CreateCluster StepKind = "create-cluster" // kind create cluster
	ReuseCluster  StepKind = "reuse-cluster"
	WriteKubecfg  StepKind = "kubeconfig"
	BuildImage    StepKind = "build-image"  // Args: docker build argv; Image: local ref
	TagImage      StepKind = "tag-image"    // Image -> content-addressed tag
	LoadImages    StepKind = "load-images"  // kind load docker-image
	EnsureNS      StepKind = "namespace"    // create the namespace if missing
	ApplySecrets  StepKind = "dev-secrets"  // ensure file, create/update Secrets
	HelmUpgrade   StepKind = "helm-upgrade" // upgrade --install --wait
	DeleteCluster StepKind = "delete-cluster"
	PrintAccess   StepKind = "print-access"
)

// Step is one planned action.
type Step struct {
	Kind     StepKind
	Args     []string // meaning depends on Kind
	Optional []string
	Service  string
	Image    string
}

func (s Step) String() string {
	switch s.Kind {
	case CheckTools:
		return fmt.Sprintf("check tools: need %s; want %s", strings.Join(s.Args, ", "), strings.Join(s.Optional, ", "))
	case BuildImage:
		return "build: " + strings.Join(s.Args, " ")
	case TagImage:
		return fmt.Sprintf("tag %s with its content digest (%s.image.tag)", s.Image, s.Service)
	case LoadImages:
		return fmt.Sprintf("load-images: %s", strings.Join(append(s.Args, s.Optional...), " "))
	case HelmUpgrade, CreateCluster, BuildOffline, ReuseCluster, DeleteCluster, WriteKubecfg, EnsureNS, ApplySecrets, PrintAccess:
		return string(s.Kind) + ": " + strings.Join(s.Args, " ")
	}
	return string(s.Kind)
}

// Plan lists the steps of c.Command given whether the cluster exists already.
func Plan(c Config, clusterExists bool) []Step {
	if c.Command == "down" {
		if !clusterExists {
			return nil
		}
		return []Step{{Kind: DeleteCluster, Args: []string{c.Name}}}
	}
	steps := []Step{{Kind: CheckTools, Args: []string{"docker"}, Optional: []string{"kubectl"}}}
	if c.Offline {
		steps = append(steps, Step{Kind: BuildOffline, Args: []string{c.NodeImage}})
	}
	if clusterExists {
		steps = append(steps, Step{Kind: ReuseCluster, Args: []string{c.Name}})
	} else {
		create := Step{Kind: CreateCluster, Args: []string{c.Name, c.KindConfig}}
		if c.NodeImage != "" {
			create.Args = append(create.Args, c.NodeImage)
		}
		steps = append(steps, create)
	}
	steps = append(steps, Step{Kind: WriteKubecfg, Args: []string{c.Kubeconfig}})
	var images []string
	if c.Build {
		for _, svc := range c.Services {
			img := c.ImagePrefix + svc + ":dev"
			steps = append(steps, Step{Kind: BuildImage, Service: svc, Image: img, Args: []string{
				"docker", "build",
				"-f", filepath.Join(c.Root, "services", "Dockerfile"),
				"--target", "runtime",
				"--build-arg", "SERVICE=" + svc,
				"--build-arg", "VERSION=" + c.Version,
				"-t", img,
				c.Root,
			}})
			steps = append(steps, Step{Kind: TagImage, Service: svc, Image: img})
			images = append(images, img)
		}
		steps = append(steps, Step{Kind: LoadImages, Args: append([]string{c.Name}, images...), Optional: c.StandIns})
	} else if len(c.StandIns) > 0 {
		steps = append(steps, Step{Kind: LoadImages, Args: []string{c.Name}, Optional: c.StandIns})
	}
	steps = append(steps,
		Step{Kind: EnsureNS, Args: []string{c.Namespace}},
		Step{Kind: ApplySecrets, Args: []string{c.DevSecrets, c.Namespace}},
		Step{Kind: HelmUpgrade, Args: append([]string{c.Release, c.Chart, c.Namespace}, c.Values...)},
		Step{Kind: PrintAccess, Args: []string{c.Release, c.Namespace}},
	)
	return steps
}

func defaultToolsDir() string {
	if d := os.Getenv("PO_TOOLS_DIR"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "po-tools")
}
