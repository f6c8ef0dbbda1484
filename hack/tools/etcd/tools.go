//go:build tools

// Package tools pins the etcd server binary; see go.mod.
package tools

import _ "go.etcd.io/etcd/server/v3"
