package mysqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"strings"

	"github.com/XSAM/otelsql"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"

	"github.com/progressive-overload/po/services/kit/tracing"
)

// openDB is sql.OpenDB, through otelsql when tracing is on (kit/tracing):
// each statement, begin, commit and rollback is then a span (with its SQL,
// whose arguments are placeholders: they are never recorded). Only inside a
// trace under way (tracing.ChildOnly): the outbox relay's polls and the
// retention prunes would otherwise open a trace each. Rows, session resets
// and pings are left out; they add spans, not information.
func openDB(c driver.Connector) *sql.DB {
	if !tracing.Enabled() {
		return sql.OpenDB(c)
	}
	return otelsql.OpenDB(c,
		otelsql.WithTracerProvider(tracing.ChildOnly(otel.GetTracerProvider())),
		otelsql.WithAttributes(attribute.String("db.system.name", "mysql")),
		otelsql.WithSpanNameFormatter(spanName),
		otelsql.WithSpanOptions(otelsql.SpanOptions{
			DisableErrSkip:       true,
			OmitConnResetSession: true,
			OmitRows:             true,
			OmitConnectorConnect: true,
		}),
	)
}

// spanName is "<operation> <table>" for statements ("INSERT outbox_events",
// "SELECT challenges"), the way OpenTelemetry names database spans, and
// otelsql's method name ("sql.tx.commit") for the rest.
func spanName(_ context.Context, method otelsql.Method, query string) string {
	if query == "" {
		return string(method)
	}
	words := strings.Fields(query)
	if len(words) == 0 {
		return string(method)
	}
	op := strings.ToUpper(words[0])
	var after string
	switch op {
	case "INSERT", "REPLACE":
		after = "INTO"
	case "SELECT", "DELETE":
		after = "FROM"
	case "UPDATE":
		if len(words) > 1 {
			return op + " " + table(words[1])
		}
		return op
	default:
		return op
	}
	for i, w := range words[1 : len(words)-1] {
		if strings.EqualFold(w, after) {
			return op + " " + table(words[i+2])
		}
	}
	return op
}

// table is a table name without quotes or what sticks to it ("`users`(",
// "t.x,").
func table(w string) string {
	w = strings.Trim(w, "`\"")
	if i := strings.IndexAny(w, "`\"(,;"); i >= 0 {
		w = w[:i]
	}
	return w
}
