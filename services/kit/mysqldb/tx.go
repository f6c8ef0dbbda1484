package mysqldb

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Error numbers after which the server has rolled the whole transaction back
// and MySQL's manual prescribes running it again.
const (
	erLockWaitTimeout = 1205
	erLockDeadlock    = 1213
)

// TxAttempts bounds how often InTx runs a transaction that keeps losing
// deadlocks or lock waits, unless changed with Attempts.
const TxAttempts = 4

// txBackoff is the mean pause before the second attempt; it grows linearly
// with the attempt and is jittered by ±50% so two losers do not collide again.
const txBackoff = 2 * time.Millisecond

// Tx is a transaction as InTx needs it: *sql.Tx and ent's generated *Tx both
// are one.
type Tx interface {
	Commit() error
	Rollback() error
}

// TxOption tunes InTx.
type TxOption func(*txOptions)

type txOptions struct{ attempts int }

// Attempts sets how many times at most InTx runs the transaction (1: never
// again). Values below 1 mean 1.
func Attempts(n int) TxOption {
	return func(o *txOptions) { o.attempts = max(n, 1) }
}

// InTx runs fn in a transaction opened by begin, committing when fn returns
// nil and rolling back when it fails or panics (the panic goes on). A
// transaction the server picked as a deadlock victim, or whose lock wait timed
// out (IsRetryable), is rolled back and run again from the start after a
// short jittered pause, as MySQL's manual prescribes, up to TxAttempts times in all and while ctx lasts: fn
// must therefore not keep state across calls, other than results it assigns
// afresh on every call.
func InTx[T Tx](ctx context.Context, begin func(context.Context) (T, error), fn func(T) error, opts ...TxOption) error {
	o := txOptions{attempts: TxAttempts}
	for _, opt := range opts {
		opt(&o)
	}
	for attempt := 1; ; attempt++ {
		err := inTxOnce(ctx, begin, fn)
		if !IsRetryable(err) || attempt >= o.attempts || ctx.Err() != nil {
			return err
		}
		pause := time.Duration(float64(txBackoff) * float64(attempt) * (0.5 + rand.Float64()))
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

func inTxOnce[T Tx](ctx context.Context, begin func(context.Context) (T, error), fn func(T) error) error {
	tx, err := begin(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			return errors.Join(err, fmt.Errorf("rollback: %w", rerr))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// IsRetryable reports whether err (or an error it wraps) is a deadlock
// (ER_LOCK_DEADLOCK) or a lock wait timeout (ER_LOCK_WAIT_TIMEOUT): the
// transaction was rolled back and may simply be run again.
func IsRetryable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == erLockDeadlock || me.Number == erLockWaitTimeout)
}
