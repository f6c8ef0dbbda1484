package chartkit

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// ConventionsPath is docs/conventions.md, the contract between the parts.
func ConventionsPath() string { return filepath.Join(RepoRoot(), "docs", "conventions.md") }

// EnvContract lists the environment variables the services read, as written in
// docs/conventions.md, section "Configuration": the rows of its table are common
// to both services; the "Account only:" and "Challenge only:" paragraphs add the
// rest.
type EnvContract struct {
	Common    []string
	Account   []string
	Challenge []string
}

// For returns the variables service svc ("account" or "challenge") reads.
func (c EnvContract) For(svc string) []string {
	out := append([]string{}, c.Common...)
	switch svc {
	case "account":
		out = append(out, c.Account...)
	case "challenge":
		out = append(out, c.Challenge...)
	}
	return out
}

var envName = regexp.MustCompile("`([A-Z][A-Z0-9_]*[A-Z0-9])`")

// ReadEnvContract parses the Configuration section of docs/conventions.md.
func ReadEnvContract(path string) (EnvContract, error) {
	f, err := os.Open(path)
	if err != nil {
		return EnvContract{}, err
	}
	defer f.Close()
	var c EnvContract
	in := false
	var target *[]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = strings.HasPrefix(line, "## Configuration")
			target = nil
			continue
		}
		if !in {
			continue
		}
		switch {
		case strings.HasPrefix(line, "|"):
			cells := strings.Split(line, "|")
			if len(cells) > 2 {
				if m := envName.FindStringSubmatch(cells[1]); m != nil {
					c.Common = append(c.Common, m[1])
				}
			}
			continue
		case strings.HasPrefix(line, "Account only:"):
			target = &c.Account
		case strings.HasPrefix(line, "Challenge only:"):
			target = &c.Challenge
		case strings.TrimSpace(line) == "":
			target = nil
		}
		if target != nil {
			for _, m := range envName.FindAllStringSubmatch(line, -1) {
				*target = append(*target, m[1])
			}
		}
	}
	if err := sc.Err(); err != nil {
		return c, err
	}
	if len(c.Common) == 0 || len(c.Account) == 0 || len(c.Challenge) == 0 {
		return c, fmt.Errorf("%s: no Configuration section with a table and Account only / Challenge only paragraphs", path)
	}
	return c, nil
}
