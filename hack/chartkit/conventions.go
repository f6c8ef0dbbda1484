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
// docs/conventions.md, section "Configuration": one table whose service column
// says "both", "account" or "challenge".
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
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = strings.HasPrefix(line, "## Configuration")
			continue
		}
		cells := strings.Split(line, "|")
		if !in || !strings.HasPrefix(line, "|") || len(cells) < 4 {
			continue
		}
		var target *[]string
		switch strings.TrimSpace(cells[2]) {
		case "both":
			target = &c.Common
		case "account":
			target = &c.Account
		case "challenge":
			target = &c.Challenge
		default:
			continue // the header and its rule
		}
		for _, m := range envName.FindAllStringSubmatch(cells[1], -1) {
			*target = append(*target, m[1])
		}
	}
	if err := sc.Err(); err != nil {
		return c, err
	}
	if len(c.Common) == 0 || len(c.Account) == 0 || len(c.Challenge) == 0 {
		return c, fmt.Errorf("%s: no Configuration table with rows for both, account and challenge", path)
	}
	return c, nil
}
