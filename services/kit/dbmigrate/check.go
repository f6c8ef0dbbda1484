package dbmigrate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/progressive-overload/po/services/kit/backoff"
	"github.com/progressive-overload/po/services/kit/mysqldb"
)

// UnreachableWait bounds how long Migrate waits for a MySQL that does not answer
// (refused, unresolvable, timing out). In a cluster `migrate` is each pod's init
// container: it starts with the in-cluster MySQL, or while that restarts, and a
// moment without MySQL is not a failure (tools such as `tilt ci` fail at the first
// init container in error). A server that answers with an error (a wrong password)
// fails at once.
var UnreachableWait = 2 * time.Minute

// Migrate is a service's `migrate` subcommand: it creates the database in
// dsn if needed and applies the pending migrations, returning how many it
// applied (0 when the schema is current). It waits up to UnreachableWait for
// MySQL to answer.
func Migrate(ctx context.Context, dsn string, migrations fs.FS) (int, error) {
	deadline := time.Now().Add(UnreachableWait)
	wait := backoff.Backoff{Min: 250 * time.Millisecond, Max: 2 * time.Second}
	for attempt := 0; ; attempt++ {
		err := mysqldb.EnsureDatabase(ctx, dsn)
		if err == nil {
			break
		}
		var oe *net.OpError
		var ne net.Error
		unreachable := errors.As(err, &oe) || errors.As(err, &ne) || errors.Is(err, mysql.ErrInvalidConn)
		if !unreachable || time.Now().After(deadline) || !backoff.Sleep(ctx.Done(), wait.Delay(attempt)) {
			return 0, err
		}
	}
	return Up(ctx, dsn, migrations)
}

// CheckCurrent refuses to start a service on a database the migrations have
// not reached yet, with the fix in the message (`<binary> migrate`), rather
// than failing request by request. It changes nothing.
func CheckCurrent(ctx context.Context, dsn string, migrations fs.FS, binary string) error {
	want, err := Latest(migrations)
	if err != nil {
		return err
	}
	have, dirty, err := Version(ctx, dsn)
	if err != nil {
		return err
	}
	if dirty {
		return &DirtyError{Database: dbName(dsn), Version: have}
	}
	if have < want {
		return fmt.Errorf("database %s is at migration %d, this build needs %d: run `%s migrate` first", dbName(dsn), have, want, binary)
	}
	return nil
}

// Latest is the highest version among the migrations (files at its root).
func Latest(migrations fs.FS) (uint, error) {
	names, err := fs.Glob(migrations, "*.up.sql")
	if err != nil {
		return 0, err
	}
	var latest uint
	for _, n := range names {
		prefix, _, _ := strings.Cut(n, "_")
		v, err := strconv.ParseUint(prefix, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("migration %s: version is not a number", n)
		}
		latest = max(latest, uint(v))
	}
	if latest == 0 {
		return 0, errors.New("no migrations embedded")
	}
	return latest, nil
}

func dbName(dsn string) string {
	if cfg, err := mysqldb.Config(dsn); err == nil {
		return cfg.DBName
	}
	return "?"
}
