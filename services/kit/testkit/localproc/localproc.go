// Package localproc is what every tool and test that starts servers of its
// own on this machine needs: loopback ports to give them, and children that
// die with their parent. kit/redisclient/redistest, kit/events/rabbitcluster,
// hack/chaos and the cluster tests share it.
package localproc

import (
	"errors"
	"net"
	"sync"
)

// rabbitmqctl listens on 35672–35682 (the default distribution port plus
// 10000 to 10010) while a command runs; a server given one of those ports
// fails when a command runs beside it.
const cliPortsLow, cliPortsHigh = 35672, 35682

var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreePorts returns n loopback TCP ports that nothing listened on a moment
// ago and that this process was not given before. Ports are picked before
// their servers bind them and the kernel may offer a freed one again: a
// make chaos run once gave HAProxy the port of a replica not yet started.
// Another process can still take one in between; a server that then fails
// to listen is the caller's to retry.
func FreePorts(n int) ([]int, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries > 100*n {
			return nil, errors.New("localproc: no free loopback port that was not handed out already")
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln) // held until all n are picked, so none repeats
		p := ln.Addr().(*net.TCPAddr).Port
		if handedOut.ports[p] || (p >= cliPortsLow && p <= cliPortsHigh) {
			continue
		}
		handedOut.ports[p] = true
		ports = append(ports, p)
	}
	return ports, nil
}

// FreePort is FreePorts(1).
func FreePort() (int, error) {
	ps, err := FreePorts(1)
	if err != nil {
		return 0, err
	}
	return ps[0], nil
}
