// Command po-cluster runs the local development cluster (see package
// hack/cluster):
//
//	po-cluster up     create or reuse kind cluster "po", build and load the
//	                  images, install or upgrade the chart, print how to reach it
//	po-cluster down   delete the cluster
//	po-cluster plan   print what `up` would do, touching nothing but Docker's
//	                  list of kind clusters
//
// `make up` and `make down` run it from the repository root.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/progressive-overload/po/hack/cluster"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "po-cluster:", err)
		os.Exit(1)
	}
}

func run() error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	c, err := cluster.Parse(os.Args[1:], root, os.Stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cluster.RequireTools([]string{"docker"}, nil, os.Stderr); err != nil {
		return err
	}
	p := cluster.Provider()
	exists, err := cluster.Exists(p, c.Name)
	if err != nil {
		return err
	}
	if c.Command == "plan" {
		c.Command = "up"
		for _, s := range cluster.Plan(c, exists) {
			fmt.Println(s)
		}
		return nil
	}
	steps := cluster.Plan(c, exists)
	if c.Command == "down" && len(steps) == 0 {
		fmt.Printf("kind cluster %q does not exist; nothing to do\n", c.Name)
		return nil
	}
	return cluster.Execute(ctx, c, steps, p, os.Stdout)
}
