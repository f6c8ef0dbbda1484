// Package freshtest is `make fresh-test`: the README's quick start run on a
// fresh machine. Its test (build tag fresh) builds a clean Debian bookworm
// container from the distribution's packages with nothing but the README's
// prerequisites (no Go module cache, no MariaDB, Redis or RabbitMQ), copies a
// clean clone of the commit under test into it and runs the README's own
// commands: the quick start's, then the walk-through's against the last of them
// (`make run`) running in the background, then stops it with Ctrl-C's signal.
//
// The commands are read from README.md by structure, never kept in a second
// copy (this file): the fenced `sh` blocks of the section "## Two commands" are
// the quick start, those of "## Walk-through" the walk-through. In the
// walk-through, comment lines indented by three spaces after the hash ("#   x")
// that follow a command are that command's expected output, line for line ("…"
// stands for any text); other comments are prose.
package freshtest

import (
	"bufio"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

// Section titles of README.md that hold the commands.
const (
	QuickStartSection  = "Two commands"
	WalkThroughSection = "Walk-through"
)

// Step is one complete shell command of the README and the output it says the
// command prints (empty: not stated).
type Step struct {
	Command string
	Expect  []string
}

// Blocks returns the contents of the fenced sh blocks of the level-2 section
// titled title (up to the next level-2 heading).
func Blocks(readme, title string) ([]string, error) {
	var blocks []string
	in, found := false, false
	var cur []string
	fence := false
	sc := bufio.NewScanner(strings.NewReader(readme))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !fence && strings.HasPrefix(line, "## ") {
			in = strings.TrimSpace(strings.TrimPrefix(line, "## ")) == title
			found = found || in
			continue
		}
		if strings.HasPrefix(line, "```") {
			if fence {
				fence = false
				if cur != nil {
					blocks = append(blocks, strings.Join(cur, "\n")+"\n")
				}
				cur = nil
				continue
			}
			fence = true
			if info := strings.TrimSpace(strings.TrimPrefix(line, "```")); in && (info == "sh" || info == "bash" || info == "shell") {
				cur = []string{}
			}
			continue
		}
		if fence && cur != nil {
			cur = append(cur, line)
		}
	}
	if !found {
		return nil, fmt.Errorf("README has no section %q", title)
	}
	if fence {
		return nil, fmt.Errorf("README: a fenced block is not closed")
	}
	if len(blocks) == 0 {
		return nil, fmt.Errorf("README section %q has no sh block", title)
	}
	return blocks, nil
}

// expectLine is a comment that states output: "#" and at least three spaces.
var expectLine = regexp.MustCompile(`^#   (.*)$`)

// Steps splits sh blocks into complete commands, as an interactive shell reads
// them (a line is added to the command until bash parses it whole), with the
// expected output stated after each.
func Steps(blocks ...string) ([]Step, error) {
	var steps []Step
	for _, b := range blocks {
		var acc []string
		for _, line := range strings.Split(strings.TrimSuffix(b, "\n"), "\n") {
			t := strings.TrimSpace(line)
			if len(acc) == 0 {
				if m := expectLine.FindStringSubmatch(line); m != nil {
					if len(steps) == 0 {
						return nil, fmt.Errorf("expected output %q before any command", line)
					}
					steps[len(steps)-1].Expect = append(steps[len(steps)-1].Expect, strings.TrimRight(m[1], " "))
					continue
				}
				if t == "" || strings.HasPrefix(t, "#") {
					continue
				}
			}
			acc = append(acc, line)
			cmd := strings.Join(acc, "\n")
			if strings.HasSuffix(t, `\`) || !Complete(cmd) {
				continue
			}
			steps = append(steps, Step{Command: cmd})
			acc = nil
		}
		if len(acc) > 0 {
			return nil, fmt.Errorf("incomplete command at the end of a block: %q", strings.Join(acc, "\n"))
		}
	}
	return steps, nil
}

// Complete reports whether bash parses cmd as whole commands (`bash -n`).
func Complete(cmd string) bool {
	return exec.Command("bash", "-n", "-c", cmd).Run() == nil
}

// Matches reports whether out (a command's output) is the expected lines:
// the same lines, trailing spaces aside, "…" in an expected line standing for
// any text.
func Matches(expect []string, out string) bool {
	got := strings.Split(strings.TrimRight(out, "\n "), "\n")
	if len(got) != len(expect) {
		return false
	}
	for i, e := range expect {
		parts := strings.Split(e, "…")
		for j := range parts {
			parts[j] = regexp.QuoteMeta(parts[j])
		}
		if !regexp.MustCompile(`^` + strings.Join(parts, ".*") + `$`).MatchString(strings.TrimRight(got[i], " \r")) {
			return false
		}
	}
	return true
}

// Readme is the quick start and the walk-through of a README.
type Readme struct {
	QuickStart  []Step // every one but the last runs to completion; the last serves
	WalkThrough []Step // run against the last quick start command
}

// Parse reads both sections of README.md's text.
func Parse(readme string) (*Readme, error) {
	var r Readme
	for _, s := range []struct {
		title string
		into  *[]Step
	}{{QuickStartSection, &r.QuickStart}, {WalkThroughSection, &r.WalkThrough}} {
		blocks, err := Blocks(readme, s.title)
		if err != nil {
			return nil, err
		}
		steps, err := Steps(blocks...)
		if err != nil {
			return nil, fmt.Errorf("section %q: %w", s.title, err)
		}
		if len(steps) == 0 {
			return nil, fmt.Errorf("section %q has no command", s.title)
		}
		*s.into = steps
	}
	return &r, nil
}
