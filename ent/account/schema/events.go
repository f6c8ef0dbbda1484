package schema

import (
	"entgo.io/ent"

	"github.com/progressive-overload/po/ent/internal/schemautil"
)

// OutboxEvent is the transactional outbox (see schemautil.Outbox).
type OutboxEvent struct{ ent.Schema }

func (OutboxEvent) Mixin() []ent.Mixin { return []ent.Mixin{schemautil.Outbox{}} }

// InboxMessage is the consumers' record of processed messages (see schemautil.Inbox).
type InboxMessage struct{ ent.Schema }

func (InboxMessage) Mixin() []ent.Mixin { return []ent.Mixin{schemautil.Inbox{}} }
