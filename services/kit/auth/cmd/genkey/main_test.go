package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/progressive-overload/po/services/kit/auth"
)

func TestRunCreatesThenKeeps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "dev.pem")
	var stderr bytes.Buffer
	if code := run([]string{"-out", path}, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.LoadKeySet(path); err != nil {
		t.Fatalf("generated key unusable: %v", err)
	}
	// make run calls genkey every time: a second run must succeed and keep
	// the key, or every restart would invalidate issued tokens.
	stderr.Reset()
	if code := run([]string{"-out", path}, &stderr); code != 0 {
		t.Fatalf("second run exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "keeping") {
		t.Fatalf("second run said %q", stderr.String())
	}
	second, _ := os.ReadFile(path)
	if !bytes.Equal(first, second) {
		t.Fatal("key was replaced")
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"-bits", "1024", "-out", filepath.Join(dir, "a.pem")},
		{"-out", filepath.Join(dir, "b.pem"), "extra"},
		{"-nope"},
	} {
		if code := run(args, &bytes.Buffer{}); code == 0 {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
