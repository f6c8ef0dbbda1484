// Command po-cluster runs the local development cluster (see package
// hack/cluster):
//
//	po-cluster up     create or reuse kind cluster "po", build and load the
//	                  images, install or upgrade the chart, print how to reach it
//	po-cluster down   delete the cluster
//	po-cluster plan   print what `up` would do, touching nothing but Docker's
//	                  list of kind clusters
//	po-cluster images build (or find current) every image of an offline
//	                  cluster (hack/offline): `up -offline` does it too
//	po-cluster engine [start|stop]
//	                  make sure a Docker engine answers (installing and starting
//	                  one where none does; hack/dockerengine), or stop the one
//	                  that start started
//
// `make up` and `make down` run it from the repository root.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/progressive-overload/po/hack/cluster"
	"github.com/progressive-overload/po/hack/dockerengine"
	"github.com/progressive-overload/po/hack/offline"
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	engine := dockerengine.Options{RepoRoot: root, Log: os.Stderr}
	if len(os.Args) > 1 && os.Args[1] == "engine" {
		if len(os.Args) > 2 && os.Args[2] == "stop" {
			return dockerengine.Stop(ctx, engine)
		}
		e, err := dockerengine.Ensure(ctx, engine)
		if err != nil {
			return err
		}
		fmt.Printf("docker engine %s answers (client %s)\n", e.Version, e.Client)
		return nil
	}
	if len(os.Args) > 1 && os.Args[1] == "images" {
		if _, err := dockerengine.Ensure(ctx, engine); err != nil {
			return err
		}
		c, err := cluster.Parse(append([]string{"up", "-offline"}, os.Args[2:]...), root, os.Stderr)
		if err != nil {
			return err
		}
		b := offline.Builder{Config: offline.Config{Root: root, ToolsDir: c.ToolsDir, Docker: dockerengine.Client(), Log: os.Stdout}}
		_, err = b.Ensure(ctx)
		return err
	}
	c, err := cluster.Parse(os.Args[1:], root, os.Stderr)
	if err != nil {
		return err
	}
	switch c.Command {
	case "up":
		if _, err := dockerengine.Ensure(ctx, engine); err != nil {
			return err
		}
	case "down":
		if _, err := dockerengine.ServerVersion(ctx); err != nil {
			fmt.Println("no Docker engine answers: no kind cluster to delete")
			return nil
		}
	}
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
	if c.Command == "down" {
		if len(steps) == 0 {
			fmt.Printf("kind cluster %q does not exist\n", c.Name)
		} else if err := cluster.Execute(ctx, c, steps, p, os.Stdout); err != nil {
			return err
		}
		// kind leaves its Docker network behind; the engine goes only if we
		// started it, and only when no other kind cluster still runs on it.
		if others, err := p.List(); err == nil && len(others) == 0 {
			_ = exec.CommandContext(ctx, dockerengine.Client(), "network", "rm", "kind").Run()
			return dockerengine.Stop(ctx, engine)
		}
		return nil
	}
	return cluster.Execute(ctx, c, steps, p, os.Stdout)
}
