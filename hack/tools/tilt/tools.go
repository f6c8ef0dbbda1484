//go:build tools

// Package tools pins the tilt binary; see go.mod.
package tools

import _ "github.com/tilt-dev/tilt/cmd/tilt"
