//go:build tools

// Package tools pins the promtool binary; see go.mod.
package tools

import _ "github.com/prometheus/prometheus/cmd/promtool"
