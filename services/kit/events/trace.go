package events

import (
	"context"
	"encoding/json"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/progressive-overload/po/services/kit/tracing"
)

// Tracing across the outbox: Enqueue stores the trace context of the span in
// its context (the request's, or the consumer's that handles the event
// causing this one) in the row's trace_context column; the relay opens its
// publish span as a child of it and puts that span's context in the
// message's AMQP headers (traceparent, tracestate, baggage); the consumer
// continues the trace from there, and whatever its handler enqueues carries
// it on. So one trace follows a request through every service its events
// reach. With tracing off (kit/tracing) none of this runs: the column stays
// NULL and no header is added.

// traceContextOf is the W3C trace context of ctx's span as the JSON object
// stored in outbox_events.trace_context, or nil (NULL) when tracing is off
// or ctx carries no trace.
func traceContextOf(ctx context.Context) (any, error) {
	if !tracing.Enabled() || !trace.SpanContextFromContext(ctx).IsValid() {
		return nil, nil
	}
	carrier := propagation.MapCarrier{}
	tracing.Propagator().Inject(ctx, carrier)
	b, err := json.Marshal(carrier)
	if err != nil {
		return nil, fmt.Errorf("events: trace context: %w", err)
	}
	return string(b), nil
}

// contextOfRow is ctx continuing the trace stored with an outbox row. A row
// without one, or with one that does not parse, gives ctx unchanged.
func contextOfRow(ctx context.Context, stored []byte) context.Context {
	if len(stored) == 0 {
		return ctx
	}
	var carrier propagation.MapCarrier
	if json.Unmarshal(stored, &carrier) != nil {
		return ctx
	}
	return tracing.Propagator().Extract(ctx, carrier)
}

// startPublishSpan opens the producer span of one message, a child of
// parent, and writes its context into headers. Only called with tracing on.
func (p *Publisher) startPublishSpan(parent context.Context, m outgoing, headers amqp.Table) trace.Span {
	ctx, span := tracing.Tracer().Start(parent, "publish "+m.typ, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "rabbitmq"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", p.opts.Exchange),
			attribute.String("messaging.rabbitmq.destination.routing_key", m.typ),
			attribute.String("messaging.message.id", m.id),
		))
	tracing.Propagator().Inject(ctx, tableCarrier(headers))
	return span
}

// startConsumeSpan continues the trace in d's headers with the consumer span
// of its handling. Only called with tracing on.
func startConsumeSpan(ctx context.Context, queue string, d amqp.Delivery, evt Event) (context.Context, trace.Span) {
	ctx = tracing.Propagator().Extract(ctx, tableCarrier(d.Headers))
	return tracing.Tracer().Start(ctx, "process "+evt.Type, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "rabbitmq"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", queue),
			attribute.String("messaging.rabbitmq.destination.routing_key", d.RoutingKey),
			attribute.String("messaging.message.id", evt.ID),
		))
}

// tableCarrier reads and writes trace context in AMQP headers. Only string
// values are trace context; anything else in the table is left alone.
type tableCarrier amqp.Table

func (t tableCarrier) Get(key string) string {
	s, _ := t[key].(string)
	return s
}

func (t tableCarrier) Set(key, value string) { t[key] = value }

func (t tableCarrier) Keys() []string {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	return keys
}
