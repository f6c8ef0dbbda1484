package main

import "testing"

func TestCheck(t *testing.T) {
	const (
		acc = module + "services/account/"
		chl = module + "services/challenge/"
		kit = module + "services/kit/"
	)
	cases := []struct {
		pkg, imp string
		ok       bool
	}{
		{acc + "internal/domain", "errors", true},
		{acc + "internal/domain", "github.com/google/uuid", false},
		{acc + "internal/domain", acc + "internal/app", false},
		{acc + "internal/domain_test", acc + "internal/domain", true},
		{acc + "internal/app", acc + "internal/domain", true},
		{acc + "internal/app", kit + "events", true},
		{acc + "internal/app", acc + "internal/adapters", false},
		{acc + "internal/adapters", acc + "internal/app", true},
		{acc + "internal/adapters", acc + "internal/ports/http", false},
		{acc + "internal/ports/http", acc + "internal/adapters", false},
		{acc + "internal/ports/http", acc + "internal/ports/amqp", true},
		{acc + "internal/ports/http", acc + "api", true},
		{acc + "internal/ports/http", acc + "internal/service", false},
		{acc + "internal/service", acc + "internal/ports/http", true},
		{acc + "internal/service", acc + "cmd/account", false},
		{acc + "cmd/account", acc + "internal/service", true},
		{acc + "api", acc + "internal/domain", false},
		{acc + "internal/service", chl + "internal/app", false},
		{acc + "internal/somewhere", "errors", false},
		{module + "ent/account", acc + "internal/domain", false},
		{module + "ent/account", kit + "mysqldb", true},
		{kit + "events", chl + "internal/app", false},
		{module + "hack/e2e", kit + "auth", true},
	}
	for _, c := range cases {
		msg := check(c.pkg, c.imp)
		if (msg == "") != c.ok {
			t.Errorf("check(%s, %s) = %q, want ok=%v", c.pkg, c.imp, msg, c.ok)
		}
	}
}
