package app

import (
	"fmt"
	"sync"
	"time"
)

// zones resolves zone names once per process: time.LoadLocation parses the
// tz database on every call, and progress is computed on every write.
var zones sync.Map // name → *time.Location

// Zone is the named IANA zone, or UTC with an error for a name this build's
// tz database does not know.
func Zone(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return time.UTC, fmt.Errorf("unknown time zone %q", name)
	}
	zones.Store(name, loc)
	return loc, nil
}
