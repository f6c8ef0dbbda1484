package mysqldb

import (
	"context"
	"testing"

	"github.com/XSAM/otelsql"
)

func TestSpanName(t *testing.T) {
	for _, tc := range []struct {
		method otelsql.Method
		query  string
		want   string
	}{
		{otelsql.MethodConnExec, "INSERT INTO outbox_events (event_id, event_type) VALUES (?, ?)", "INSERT outbox_events"},
		{otelsql.MethodConnExec, "INSERT INTO `challenges` (`user_id`) VALUES (?)", "INSERT challenges"},
		{otelsql.MethodConnQuery, "SELECT `c`.`id` FROM `challenges` AS `c` WHERE id = ?", "SELECT challenges"},
		{otelsql.MethodConnQuery, "select id from users where id = ?", "SELECT users"},
		{otelsql.MethodConnExec, "UPDATE `challenges` SET `status` = ? WHERE `id` = ?", "UPDATE challenges"},
		{otelsql.MethodConnExec, "DELETE FROM inbox_messages WHERE processed_at < ? LIMIT 1000", "DELETE inbox_messages"},
		{otelsql.MethodConnQuery, "SELECT COUNT(*)", "SELECT"},
		{otelsql.MethodConnExec, "SET time_zone = '+00:00'", "SET"},
		{otelsql.MethodTxCommit, "", "sql.tx.commit"},
		{otelsql.MethodConnExec, "   ", "sql.conn.exec"},
	} {
		if got := spanName(context.Background(), tc.method, tc.query); got != tc.want {
			t.Errorf("spanName(%s, %q) = %q, want %q", tc.method, tc.query, got, tc.want)
		}
	}
}
