// Package capstrip is the heart of runc-capstrip, an OCI runtime wrapper for
// machines whose capability bounding set lacks some capabilities (a VM or a
// container that was itself started without them).
//
// Docker grants a privileged container every capability it knows. Where the
// bounding set of the engine lacks one (CAP_SYS_RESOURCE on some hosted VMs), runc
// fails with "unable to apply caps: operation not permitted", and kind's node
// containers, which are privileged, cannot start. The wrapper removes from the
// container's spec every capability the bounding set lacks, then runs runc: the
// container gets what the host can give, which is what privileged means there.
package capstrip

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Names of the Linux capabilities, by number (linux/capability.h).
var Names = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// Bounding reads the CapBnd mask from a /proc/<pid>/status file.
func Bounding(status io.Reader) (uint64, error) {
	sc := bufio.NewScanner(status)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapBnd:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no CapBnd line")
}

// Missing lists the known capabilities that the mask lacks.
func Missing(mask uint64) []string {
	var out []string
	for i, n := range Names {
		if mask&(1<<uint(i)) == 0 {
			out = append(out, n)
		}
	}
	return out
}

// Strip removes the named capabilities from every set in caps (an OCI
// "capabilities" object: bounding, effective, inheritable, permitted, ambient).
// It reports whether anything was removed.
func Strip(caps map[string]any, drop map[string]bool) bool {
	changed := false
	for set, v := range caps {
		list, ok := v.([]any)
		if !ok {
			continue
		}
		kept := list[:0:0]
		for _, c := range list {
			if s, ok := c.(string); ok && drop[s] {
				changed = true
				continue
			}
			kept = append(kept, c)
		}
		caps[set] = kept
	}
	return changed
}

// FixFile rewrites an OCI document in place: a bundle's config.json (capabilities
// under "process") or a process file of `runc exec --process` (capabilities at
// the top). Unknown fields are kept as they are.
func FixFile(path string, drop map[string]bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	caps, _ := doc["capabilities"].(map[string]any)
	if proc, ok := doc["process"].(map[string]any); ok {
		caps, _ = proc["capabilities"].(map[string]any)
	}
	if caps == nil || !Strip(caps, drop) {
		return nil
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp := path + ".capstrip"
	if err := os.WriteFile(tmp, out, st.Mode().Perm()); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Targets finds the files a runc command line will read capabilities from:
// `create`/`run` read <bundle>/config.json (the bundle defaults to the working
// directory), `exec` reads its --process file. Global flags come before the
// command; both `--flag value` and `--flag=value` forms are accepted.
func Targets(args []string, cwd string) []string {
	cmd, rest := "", []string(nil)
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			cmd, rest = a, args[i+1:]
			break
		}
		// Global flags that take a value (runc --help).
		switch a {
		case "--root", "--log", "--log-format", "--criu", "--rootless":
			i++
		}
	}
	value := func(long, short string) (string, bool) {
		for i, a := range rest {
			if v, ok := strings.CutPrefix(a, long+"="); ok {
				return v, true
			}
			if (a == long || (short != "" && a == short)) && i+1 < len(rest) {
				return rest[i+1], true
			}
		}
		return "", false
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(cwd, p)
	}
	switch cmd {
	case "create", "run":
		bundle, ok := value("--bundle", "-b")
		if !ok {
			bundle = cwd
		}
		return []string{filepath.Join(abs(bundle), "config.json")}
	case "exec":
		if p, ok := value("--process", "-p"); ok {
			return []string{abs(p)}
		}
	}
	return nil
}
