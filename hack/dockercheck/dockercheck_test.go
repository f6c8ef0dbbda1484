package dockercheck

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/progressive-overload/po/hack/chartkit"
)

var services = []string{"account", "challenge"}

func stageByName(stages []Stage, name string) *Stage {
	for i := range stages {
		if stages[i].Name == name {
			return &stages[i]
		}
	}
	return nil
}

// services/Dockerfile, built for each service: a Go build stage, a non-root
// distroless runtime as the default (last) target with only the binary, a dev
// target with a shell for Tilt; every COPY from the context is something
// .dockerignore lets through.
func TestServiceDockerfile(t *testing.T) {
	root := chartkit.RepoRoot()
	ctx, err := Context(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range services {
		t.Run(svc, func(t *testing.T) {
			stages, err := ParseDockerfile(filepath.Join(root, "services", "Dockerfile"), map[string]string{"SERVICE": svc, "VERSION": "test"})
			if err != nil {
				t.Fatal(err)
			}
			if len(stages) != 3 {
				t.Fatalf("%d stages, want build, dev, runtime", len(stages))
			}
			build, dev, rt := stageByName(stages, "build"), stageByName(stages, "dev"), stageByName(stages, "runtime")
			if build == nil || dev == nil || rt == nil {
				t.Fatalf("stages %+v", stages)
			}
			if stages[len(stages)-1].Name != "runtime" {
				t.Error("runtime must be the last stage: `docker build` without --target builds it")
			}
			if !strings.HasPrefix(rt.Base, "gcr.io/distroless/static") || !strings.HasSuffix(rt.Base, ":nonroot") {
				t.Errorf("runtime base %s: want distroless static, nonroot", rt.Base)
			}
			// hack/offline builds a stand-in for exactly this name.
			if dev.Base != "debian:bookworm-slim" {
				t.Errorf("dev base %s: want debian:bookworm-slim", dev.Base)
			}
			if len(rt.Copies) != 1 || rt.Copies[0].From != "build" || rt.Copies[0].Sources[0] != "/out/service" || rt.Copies[0].Dest != "/service" {
				t.Errorf("runtime must hold only the binary, as /service: %+v", rt.Copies)
			}
			for _, st := range []*Stage{rt, dev} {
				if len(st.Users) == 0 || st.Users[len(st.Users)-1] != "65532:65532" {
					t.Errorf("%s: USER %v, want numeric 65532:65532 (runAsNonRoot checks a numeric user)", st.Name, st.Users)
				}
				if !slices.Contains(st.Labels, "org.opencontainers.image.title="+svc) {
					t.Errorf("%s: labels %v, want the service's name as the image title", st.Name, st.Labels)
				}
			}
			if rt.Entrypoint != `["/service"]` {
				t.Errorf("runtime ENTRYPOINT %s", rt.Entrypoint)
			}
			if dev.Entrypoint != `["/app/restart.sh", "/app/service"]` {
				t.Errorf("dev ENTRYPOINT %s: want tilt/restart.sh running /app/service (Tilt syncs to /app/sync/service)", dev.Entrypoint)
			}
			if c := dev.Copies[len(dev.Copies)-1]; c.Sources[0] != ".dev/bin/linux/"+svc || c.Dest != "/app/service" {
				t.Errorf("dev must run the binary Tilt compiled for %s: COPY %v %s", svc, c.Sources, c.Dest)
			}
			buildLine := strings.Join(build.Runs, "\n")
			for _, want := range []string{"go build", "-trimpath", "-X main.version=test", "cd services/" + svc + " ", "./cmd/" + svc} {
				if !strings.Contains(buildLine, want) {
					t.Errorf("build stage lacks %q", want)
				}
			}
			for _, st := range stages {
				for _, c := range st.Copies {
					if c.From != "" {
						continue
					}
					for _, src := range c.Sources {
						src = strings.TrimSuffix(src, "/")
						if strings.HasPrefix(src, ".dev/") { // built by Tilt before the image
							if ex, err := Excluded(root, src); err != nil || ex {
								t.Errorf("%s: COPY %s is excluded by .dockerignore (%v)", st.Name, src, err)
							}
							continue
						}
						if !inContext(ctx, src) {
							t.Errorf("%s: COPY %s: nothing of it is in the build context", st.Name, src)
						}
					}
				}
			}
		})
	}
}

// Without SERVICE, every service path would name services/ itself (the dev
// stage would copy the whole .dev/bin/linux directory as its binary): each stage
// that copies by SERVICE refuses first, in a RUN before its first COPY.
func TestServiceDockerfileNeedsService(t *testing.T) {
	stages, err := ParseDockerfile(filepath.Join(chartkit.RepoRoot(), "services", "Dockerfile"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"build", "dev"} {
		st := stageByName(stages, name)
		if st == nil {
			t.Fatalf("no %s stage", name)
		}
		firstRun, firstCopy := slices.Index(st.Instruction, "RUN"), slices.Index(st.Instruction, "COPY")
		if firstRun < 0 || firstRun > firstCopy || !strings.Contains(st.Runs[0], `[ -n "" ] ||`) || !strings.Contains(st.Runs[0], "exit 1") {
			t.Errorf("%s: instructions %v, first RUN %q: want a check that SERVICE is set before the first COPY", name, st.Instruction, st.Runs)
		}
	}
}

func inContext(ctx map[string]bool, src string) bool {
	for f := range ctx {
		if f == src || strings.HasPrefix(f, src+"/") {
			return true
		}
	}
	return false
}

// .dockerignore keeps the context small: no VCS, docs, charts, local state,
// binaries, tests.
func TestDockerignoreKeepsContextSmall(t *testing.T) {
	ctx, err := Context(chartkit.RepoRoot())
	if err != nil {
		t.Fatal(err)
	}
	if len(ctx) == 0 {
		t.Fatal("empty context")
	}
	for f := range ctx {
		top := strings.SplitN(f, "/", 2)[0]
		switch {
		case top == "services" || top == "ent" || f == "tilt/restart.sh" || strings.HasPrefix(f, ".dev/bin/linux/"):
		default:
			t.Errorf("%s is in the build context", f)
		}
		if strings.HasSuffix(f, "_test.go") || strings.Contains(f, "/testdata/") {
			t.Errorf("%s (tests) is in the build context", f)
		}
	}
	for _, must := range []string{"services/account/go.mod", "services/challenge/go.sum", "services/kit/go.mod", "ent/go.mod"} {
		if !ctx[must] {
			t.Errorf("%s missing from the build context", must)
		}
	}
}
