// Package dockercheck checks the service Dockerfiles and .dockerignore without
// a Docker engine: it reads the Dockerfiles' stages and COPY instructions,
// computes the build context the way Docker does (.dockerignore, with moby's
// own pattern matcher), and can lay that context out in a directory so the
// image's `go build` can be run for real with the local toolchain.
package dockercheck

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Stage is one FROM of a Dockerfile.
type Stage struct {
	Name, Base  string
	Copies      []Copy
	Users       []string
	Exposes     []string
	Labels      []string // KEY=VALUE, as written after substitution
	Entrypoint  string
	Runs        []string
	Instruction []string // every instruction keyword, in order
}

// Copy is a COPY instruction.
type Copy struct {
	From    string // --from stage, or "" for the build context
	Sources []string
	Dest    string
}

// ParseDockerfile reads stages, COPY sources, USER, EXPOSE, LABEL and
// ENTRYPOINT, joining continuation lines, as a build with the given
// --build-arg values would see them. It understands what the project's
// Dockerfiles use, not the whole language.
//
// ARG scoping follows Docker: an ARG before the first FROM is visible to FROM
// lines only, and inside a stage only once the stage declares it again. FROM,
// COPY, USER, EXPOSE and LABEL are substituted (${NAME} and $NAME); ENTRYPOINT is
// not (the builder leaves exec form alone). RUN lines are substituted too,
// although the builder does not do it: a declared ARG is in RUN's environment,
// so its shell expands them to the same text.
func ParseDockerfile(path string, buildArgs map[string]string) ([]Stage, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (l == "" || strings.HasPrefix(l, "#")) {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cur.WriteString(strings.TrimSuffix(l, "\\") + " ")
			continue
		}
		cur.WriteString(l)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	global := map[string]string{} // ARGs before the first FROM
	var scope map[string]string   // the current stage's declared ARGs
	var stages []Stage
	for _, l := range lines {
		fields := strings.Fields(l)
		kw := strings.ToUpper(fields[0])
		if kw == "ARG" {
			if len(fields) < 2 {
				return nil, fmt.Errorf("%s: ARG without a name", path)
			}
			name, def, hasDef := strings.Cut(fields[1], "=")
			val, given := buildArgs[name]
			switch {
			case given:
			case hasDef:
				val = expand(def, scope)
			case len(stages) > 0:
				val = global[name] // a redeclared global keeps its default
			}
			if len(stages) == 0 {
				global[name] = val
			} else {
				scope[name] = val
			}
			continue
		}
		if kw == "FROM" {
			st := Stage{Base: expand(fields[1], global)}
			if len(fields) >= 4 && strings.EqualFold(fields[2], "AS") {
				st.Name = fields[3]
			}
			stages = append(stages, st)
			scope = map[string]string{}
			continue
		}
		if len(stages) == 0 {
			return nil, fmt.Errorf("%s: %s before FROM", path, kw)
		}
		st := &stages[len(stages)-1]
		st.Instruction = append(st.Instruction, kw)
		switch kw {
		case "COPY":
			c := Copy{}
			var args []string
			for _, a := range fields[1:] {
				switch {
				case strings.HasPrefix(a, "--from="):
					c.From = strings.TrimPrefix(a, "--from=")
				case strings.HasPrefix(a, "--"):
				default:
					args = append(args, expand(a, scope))
				}
			}
			if len(args) < 2 {
				return nil, fmt.Errorf("%s: COPY needs a source and a destination: %s", path, l)
			}
			c.Sources, c.Dest = args[:len(args)-1], args[len(args)-1]
			st.Copies = append(st.Copies, c)
		case "USER":
			st.Users = append(st.Users, expand(fields[1], scope))
		case "EXPOSE":
			for _, p := range fields[1:] {
				st.Exposes = append(st.Exposes, expand(p, scope))
			}
		case "LABEL":
			for _, kv := range fields[1:] {
				st.Labels = append(st.Labels, expand(kv, scope))
			}
		case "ENTRYPOINT":
			st.Entrypoint = strings.TrimSpace(strings.TrimPrefix(l, fields[0]))
		case "RUN":
			st.Runs = append(st.Runs, expand(l, scope))
		}
	}
	return stages, nil
}

// expand substitutes ${NAME} and $NAME from vars; an undeclared name is empty,
// as in a build.
func expand(s string, vars map[string]string) string {
	return os.Expand(s, func(name string) string { return vars[name] })
}

// Context is the build context Docker would send: every file of root not
// excluded by root/.dockerignore, as slash-separated relative paths.
func Context(root string) (map[string]bool, error) {
	pm, err := ignoreMatcher(root)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() && rel == ".git" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		excluded, err := pm.MatchesOrParentMatches(rel)
		if err != nil {
			return err
		}
		if !excluded {
			out[rel] = true
		}
		return nil
	})
	return out, err
}

// Excluded reports whether .dockerignore keeps rel (a path that may not exist,
// e.g. a binary Tilt builds later) out of the context.
func Excluded(root, rel string) (bool, error) {
	pm, err := ignoreMatcher(root)
	if err != nil {
		return false, err
	}
	return pm.MatchesOrParentMatches(rel)
}

func ignoreMatcher(root string) (*patternmatcher.PatternMatcher, error) {
	f, err := os.Open(filepath.Join(root, ".dockerignore"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, err
	}
	return patternmatcher.New(patterns)
}

// Materialize copies the context files under the given prefixes into dir, as
// the Dockerfile's COPY instructions would.
func Materialize(root, dir string, ctx map[string]bool, prefixes ...string) error {
	for rel := range ctx {
		keep := false
		for _, p := range prefixes {
			if rel == p || strings.HasPrefix(rel, strings.TrimSuffix(p, "/")+"/") {
				keep = true
			}
		}
		if !keep {
			continue
		}
		if err := copyFile(filepath.Join(root, filepath.FromSlash(rel)), filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
