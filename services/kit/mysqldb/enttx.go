package mysqldb

import (
	"context"
	"database/sql"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// TxDriver is an ent driver over a transaction someone else owns (an event
// consumer's, which also holds the inbox row). ent wraps some single writes
// (UpdateOne) in a transaction of their own; a plain driver over a *sql.Tx
// would try to begin one and panic, so here that transaction is the open one,
// and Close leaves it to its owner.
func TxDriver(tx *sql.Tx) dialect.Driver {
	return txDriver{entsql.NewDriver(dialect.MySQL, entsql.Conn{ExecQuerier: tx})}
}

type txDriver struct{ *entsql.Driver }

func (d txDriver) Tx(context.Context) (dialect.Tx, error) { return dialect.NopTx(d.Driver), nil }

func (txDriver) Close() error { return nil }
