//go:build tools

// Package tools pins the local-path-provisioner binary; see go.mod.
package tools

import _ "github.com/rancher/local-path-provisioner"
