package service

import (
	"github.com/progressive-overload/po/services/kit/events"

	"github.com/progressive-overload/po/services/account/internal/adapters"
	amqpport "github.com/progressive-overload/po/services/account/internal/ports/amqp"
)

// ChallengeCreatedHandler builds the handler s's consumer runs for
// challenge.created, so a benchmark can drive it without the broker.
func ChallengeCreatedHandler(s *Service) events.Handler {
	return amqpport.ChallengeCreatedHandler(s.App, adapters.ChallengeUserTx, s.relay.Notify)
}
