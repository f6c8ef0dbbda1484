package logging_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/kit/logging"
)

// countingWriter counts the writes that reach it, as write(2) calls would.
type countingWriter struct {
	mu     sync.Mutex
	writes int
	buf    bytes.Buffer
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.buf.Write(p)
}

func (w *countingWriter) snapshot() (int, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writes, w.buf.String()
}

func TestBufferedBatchesLinesAndKeepsThemWhole(t *testing.T) {
	var out countingWriter
	b := logging.NewBuffered(&out, time.Hour) // only Close and a full buffer flush
	log := logging.New(b, "svc", "info", "json")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				log.Info("request", "g", g, "i", i, "path", "/challenges/logs/42")
			}
		})
	}
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	writes, text := out.snapshot()
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 2000 {
		t.Fatalf("%d lines, want 2000", len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "{") || !strings.HasSuffix(l, "}") {
			t.Fatalf("line torn or interleaved: %q", l)
		}
	}
	// 2,000 lines of ~130 bytes in a 64 KiB buffer: a handful of writes.
	if writes > 10 {
		t.Errorf("%d writes for 2000 lines, want them batched", writes)
	}
}

func TestBufferedFlushesOnItsInterval(t *testing.T) {
	var out countingWriter
	b := logging.NewBuffered(&out, 10*time.Millisecond)
	t.Cleanup(func() { _ = b.Close() })
	fmt.Fprintln(b, "one line")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, text := out.snapshot(); text == "one line\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a buffered line never reached the writer without Close")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBufferedWritesThroughWithoutAnInterval(t *testing.T) {
	var out countingWriter
	b := logging.NewBuffered(&out, 0)
	fmt.Fprintln(b, "a")
	fmt.Fprintln(b, "b")
	if writes, text := out.snapshot(); writes != 2 || text != "a\nb\n" {
		t.Fatalf("%d writes %q, want each line written at once", writes, text)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBufferedAfterCloseWritesThrough(t *testing.T) {
	var out countingWriter
	b := logging.NewBuffered(&out, time.Hour)
	fmt.Fprintln(b, "before")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(b, "late")
	if _, text := out.snapshot(); text != "before\nlate\n" {
		t.Fatalf("got %q", text)
	}
	if err := b.Close(); err != nil { // twice is harmless
		t.Fatal(err)
	}
}

// The process-level promise: a service that logs through Buffered and is
// stopped by SIGTERM has written every line when it exits. The test runs
// itself as that service (helperProcess) and sends the signal.
func TestBufferedLosesNothingOnSIGTERM(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "PO_LOGGING_HELPER=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	r := bufio.NewReader(stdout)
	// The helper writes "ready" unbuffered once its lines are buffered and
	// it waits for the signal.
	if l, err := r.ReadString('\n'); err != nil || l != "ready\n" {
		t.Fatalf("helper: %q, %v", l, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(rest), "\n"), "\n")
	if len(lines) != 301 || !strings.Contains(lines[300], "stopped") {
		t.Fatalf("%d lines after SIGTERM, want the 300 buffered and the shutdown line; last %q", len(lines), lines[len(lines)-1])
	}
}

func TestHelperProcess(t *testing.T) {
	if os.Getenv("PO_LOGGING_HELPER") != "1" {
		return // only as the child of TestBufferedLosesNothingOnSIGTERM
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	b := logging.NewBuffered(os.Stdout, time.Hour)
	log := logging.New(b, "svc", "info", "json")
	for i := range 300 { // ~30 KiB: all of it stays in the buffer
		log.Info("request", "i", i)
	}
	fmt.Fprintln(os.Stdout, "ready")
	<-ctx.Done()
	log.Info("stopped")
	if err := b.Close(); err != nil {
		os.Exit(3)
	}
	os.Exit(0)
}

func TestTextLinesStartWithTheService(t *testing.T) {
	var out countingWriter
	log := logging.New(&out, "account", "info", "text")
	log.Info("listening", "addr", ":3000")
	log.Info("second")
	writes, text := out.snapshot()
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if writes != 2 || len(lines) != 2 {
		t.Fatalf("%d writes, %q: want one write per line", writes, text)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "account   | time=") {
			t.Errorf("line %q lacks the service column", l)
		}
	}
}
