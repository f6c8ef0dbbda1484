// Command po-chaos is `make chaos`: two replicas of each service behind
// HAProxy on a MariaDB, Redis and RabbitMQ of its own, a steady mixed load,
// one fault at a time, and docs/reliability.md from what survived
// (hack/chaos). Ctrl-C stops every process it started and exits.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/progressive-overload/po/hack/bench"
	"github.com/progressive-overload/po/hack/chaos"
	"github.com/progressive-overload/po/hack/reporoot"
)

func main() {
	os.Exit(run())
}

func run() int {
	root := reporoot.Dir()
	quick := flag.Bool("quick", false, "smoke run: short windows, no report written")
	rate := flag.Float64("rate", 100, "requests per second through the balancer")
	users := flag.Int("users", 20, "users of the load (each with 2 challenges)")
	faults := flag.String("faults", "all", "comma-separated faults to inject: "+strings.Join(chaos.FaultOrder, ", "))
	bound := flag.Duration("bound", 10*time.Millisecond, "the p99 a fault's recovery is measured against")
	timeout := flag.Duration("timeout", 5*time.Second, "per-request timeout of the load")
	doc := flag.String("doc", filepath.Join(root, "docs", "reliability.md"), "report to write (not with -quick)")
	keep := flag.Bool("keep", false, "keep the temporary directory (every process' log, the datadirs) after a successful run")
	command := flag.String("command", "go run ./hack/cmd/po-chaos", "the command line the report names")
	flag.Parse()

	selected, err := chaos.SelectFaults(*faults)
	if err != nil {
		fmt.Fprintln(os.Stderr, "po-chaos:", err)
		return 2
	}
	if *rate <= 0 || *users < 1 {
		fmt.Fprintln(os.Stderr, "po-chaos: -rate and -users must be positive")
		return 2
	}
	// One run at a time per checkout: two would measure each other.
	lock, err := bench.Lock(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "po-chaos:", err)
		return 1
	}
	defer lock.Close()

	cfg := chaos.Config{
		Root: root, Rate: *rate, Users: *users, Faults: selected, Quick: *quick, Bound: *bound,
		Replicas: 2, Timeout: *timeout, Command: *command, Keep: *keep, Out: os.Stdout, Seed: uint64(time.Now().UnixNano()),
		Mix: chaos.Mix{Read: 0.70, Log: 0.25, Challenge: 0.05},
	}
	if !*quick {
		cfg.Doc = *doc
		cfg.ImgDir = filepath.Join(filepath.Dir(*doc), "img")
	}
	budget := chaos.Timings(*quick).Budget(selected, cfg.Replicas) + 5*time.Minute // setup and build
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	rep, err := chaos.NewRunner(cfg).Run(ctx)
	if err != nil {
		if ctx.Err() != nil && context.Cause(ctx) != nil {
			fmt.Fprintf(os.Stderr, "po-chaos: stopped (%v); every process it started is stopped\n", err)
		} else {
			fmt.Fprintln(os.Stderr, "po-chaos:", err)
		}
		return 1
	}
	fmt.Printf("\n%s\n", chaos.Table(rep.Rows).Text())
	if v := chaos.Verdict(rep.Rows); len(v) > 0 {
		fmt.Println("guarantees broken:")
		for _, s := range v {
			fmt.Println("  - " + s)
		}
		return 1
	}
	fmt.Println("every acknowledged write survived, no event was applied twice")
	return 0
}
