package mysqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/progressive-overload/po/services/kit/mysqldb"
	"github.com/progressive-overload/po/services/kit/mysqldb/mysqltest"
)

func openTxTable(t *testing.T) (*sql.DB, func(context.Context) (*sql.Tx, error)) {
	t.Helper()
	db, err := mysqldb.Open(t.Context(), mysqltest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	for _, q := range []string{
		"CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB",
		"INSERT INTO t (id, v) VALUES (1, 0), (2, 0)",
	} {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	return db, func(ctx context.Context) (*sql.Tx, error) { return db.BeginTx(ctx, nil) }
}

func values(t *testing.T, db *sql.DB) (v1, v2 int) {
	t.Helper()
	if err := db.QueryRowContext(t.Context(), "SELECT (SELECT v FROM t WHERE id = 1), (SELECT v FROM t WHERE id = 2)").Scan(&v1, &v2); err != nil {
		t.Fatal(err)
	}
	return v1, v2
}

// deadlock runs two transactions that lock rows 1 and 2 in opposite orders,
// each taking its second lock only once both hold their first: the server
// must pick one of them as a deadlock victim.
func deadlock(t *testing.T, opts ...mysqldb.TxOption) (db *sql.DB, errs [2]error, calls int64) {
	t.Helper()
	db, begin := openTxTable(t)
	ctx := t.Context()
	held := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	var once [2]sync.Once
	var n atomic.Int64
	var wg sync.WaitGroup
	for i, order := range [2][2]int{{1, 2}, {2, 1}} {
		wg.Go(func() {
			errs[i] = mysqldb.InTx(ctx, begin, func(tx *sql.Tx) error {
				n.Add(1)
				if _, err := tx.ExecContext(ctx, "UPDATE t SET v = v + 1 WHERE id = ?", order[0]); err != nil {
					return err
				}
				once[i].Do(func() { close(held[i]) })
				select {
				case <-held[1-i]:
				case <-ctx.Done():
					return ctx.Err()
				}
				_, err := tx.ExecContext(ctx, "UPDATE t SET v = v + 1 WHERE id = ?", order[1])
				return err
			}, opts...)
		})
	}
	wg.Wait()
	return db, errs, n.Load()
}

func TestInTxRetriesADeadlockVictim(t *testing.T) {
	db, errs, calls := deadlock(t)
	for i, err := range errs {
		if err != nil {
			t.Errorf("transaction %d: %v, want it to succeed after a retry", i, err)
		}
	}
	if calls != 3 {
		t.Errorf("fn ran %d times, want 3 (the victim once more)", calls)
	}
	if v1, v2 := values(t, db); v1 != 2 || v2 != 2 {
		t.Errorf("rows %d and %d, want both transactions' updates (2 and 2)", v1, v2)
	}
}

func TestInTxGivesUpAfterItsAttempts(t *testing.T) {
	_, errs, calls := deadlock(t, mysqldb.Attempts(1))
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
			if !mysqldb.IsRetryable(err) {
				t.Errorf("victim's error %v, want a retryable one", err)
			}
		}
	}
	if failed != 1 || calls != 2 {
		t.Errorf("%d failed after %d calls, want 1 victim after 2 calls", failed, calls)
	}
}

func TestInTxCommitsAndRollsBack(t *testing.T) {
	db, begin := openTxTable(t)
	ctx := t.Context()
	update := func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE t SET v = 7 WHERE id = 1")
		return err
	}

	if err := mysqldb.InTx(ctx, begin, update); err != nil {
		t.Fatal(err)
	}
	if v1, _ := values(t, db); v1 != 7 {
		t.Errorf("after commit v = %d, want 7", v1)
	}

	boom := errors.New("boom")
	calls := 0
	err := mysqldb.InTx(ctx, begin, func(tx *sql.Tx) error {
		calls++
		if _, err := tx.ExecContext(ctx, "UPDATE t SET v = 8 WHERE id = 1"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || calls != 1 {
		t.Errorf("err %v after %d calls, want boom after 1", err, calls)
	}
	if v1, _ := values(t, db); v1 != 7 {
		t.Errorf("after a failed fn v = %d, want 7 (rolled back)", v1)
	}

	func() {
		defer func() {
			if p := recover(); p != "panic" {
				t.Errorf("recovered %v, want the panic to go on", p)
			}
		}()
		_ = mysqldb.InTx(ctx, begin, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, "UPDATE t SET v = 9 WHERE id = 1"); err != nil {
				return err
			}
			panic("panic")
		})
	}()
	if v1, _ := values(t, db); v1 != 7 {
		t.Errorf("after a panic v = %d, want 7 (rolled back)", v1)
	}

	failing := func(context.Context) (*sql.Tx, error) { return nil, boom }
	if err := mysqldb.InTx(ctx, failing, update); !errors.Is(err, boom) {
		t.Errorf("begin failure: %v, want boom", err)
	}
}

func TestIsRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&mysql.MySQLError{Number: 1213}, true},
		{fmt.Errorf("save: %w", &mysql.MySQLError{Number: 1205}), true},
		{&mysql.MySQLError{Number: 1062}, false},
		{errors.New("other"), false},
		{nil, false},
	} {
		if got := mysqldb.IsRetryable(tc.err); got != tc.want {
			t.Errorf("IsRetryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
