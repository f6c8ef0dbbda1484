//go:build tools

// Package tools pins the kube-apiserver binary; see go.mod.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
