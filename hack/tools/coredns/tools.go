//go:build tools

// Package tools pins the CoreDNS binary; see go.mod.
package tools

import _ "github.com/coredns/coredns"
