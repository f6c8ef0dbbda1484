package e2e

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestTraceAcrossServices runs both services with tracing on, exporting to an
// OTLP/HTTP receiver inside the test, and follows one POST /challenges
// through the outbox, the broker and both consumers: every step must be a
// span of the one trace the request started, each the child of the step
// that caused it.
func TestTraceAcrossServices(t *testing.T) {
	rcv := newOTLPReceiver(t)
	s := newSystem(t,
		"OTEL_EXPORTER_OTLP_ENDPOINT="+rcv.url,
		// Export every 100ms instead of 5s: the test waits for the spans.
		"OTEL_BSP_SCHEDULE_DELAY=100",
		"OTEL_TRACES_SAMPLER=parentbased_always_on",
	)
	ada := s.signUp(t, "ada")
	c := s.createChallenge(t, ada.Token)
	s.waitStatus(t, ada.Token, c.Id, "active")

	// The request's span names the trace; the rest of the chain arrives as
	// the batches are exported.
	var root *span
	poll(t, "the POST /challenges span", func() bool {
		root = rcv.find(func(sp *span) bool {
			return sp.service == "challenge" && sp.Name == "POST /challenges" && sp.Kind == tracepb.Span_SPAN_KIND_SERVER
		})
		return root != nil
	}, func() string { return rcv.describe("") })
	trace := hex.EncodeToString(root.TraceId)
	if len(root.ParentSpanId) != 0 {
		t.Errorf("POST /challenges has a parent %x: the client sent no trace context", root.ParentSpanId)
	}

	// Each step: the service it runs in, its name and kind, and which step
	// must be its parent (or, for database statements, an ancestor).
	type step struct {
		service, name string
		kind          tracepb.Span_SpanKind
		parent        string // the step's key whose span is the parent
		ancestor      string // instead of parent: any ancestor
	}
	steps := []struct {
		key string
		step
	}{
		{"request", step{"challenge", "POST /challenges", tracepb.Span_SPAN_KIND_SERVER, "", ""}},
		{"challenge outbox insert", step{"challenge", "INSERT outbox_events", tracepb.Span_SPAN_KIND_CLIENT, "", "request"}},
		{"relay publish", step{"challenge", "publish challenge.created", tracepb.Span_SPAN_KIND_PRODUCER, "request", ""}},
		{"account consumer", step{"account", "process challenge.created", tracepb.Span_SPAN_KIND_CONSUMER, "relay publish", ""}},
		{"account outbox insert", step{"account", "INSERT outbox_events", tracepb.Span_SPAN_KIND_CLIENT, "", "account consumer"}},
		{"account publish", step{"account", "publish user.validated", tracepb.Span_SPAN_KIND_PRODUCER, "account consumer", ""}},
		{"challenge consumer", step{"challenge", "process user.validated", tracepb.Span_SPAN_KIND_CONSUMER, "account publish", ""}},
		{"challenge activated", step{"challenge", "UPDATE challenges", tracepb.Span_SPAN_KIND_CLIENT, "", "challenge consumer"}},
	}
	found := map[string]*span{}
	var missing string
	poll(t, "every step of the chain in trace "+trace, func() bool {
		spans := rcv.trace(root.TraceId)
		for _, st := range steps {
			if found[st.key] != nil {
				continue
			}
			for _, sp := range spans {
				if sp.service != st.service || sp.Name != st.name || sp.Kind != st.kind {
					continue
				}
				// Several spans may share a name (two INSERTs into the
				// outbox, say): take the one below the right step.
				if st.parent != "" && (found[st.parent] == nil || !bytes.Equal(sp.ParentSpanId, found[st.parent].SpanId)) {
					continue
				}
				if st.ancestor != "" && (found[st.ancestor] == nil || !rcv.descends(sp, found[st.ancestor])) {
					continue
				}
				found[st.key] = sp
				break
			}
			if found[st.key] == nil {
				missing = st.key
				return false
			}
		}
		return true
	}, func() string { return "no span for " + missing + " yet; trace so far:\n" + rcv.describe(trace) })

	t.Logf("trace %s:\n%s", trace, rcv.describe(trace))

	// The account service validated the challenge in its consumer's
	// transaction: the inbox insert is under the consumer span too.
	if !rcv.has(root.TraceId, func(sp *span) bool {
		return sp.service == "account" && sp.Name == "INSERT inbox_messages" && rcv.descends(sp, found["account consumer"])
	}) {
		t.Errorf("no INSERT inbox_messages under the account's consumer span:\n%s", rcv.describe(trace))
	}

	// The latency histogram links the request's bucket to its trace
	// (OpenMetrics exemplars).
	req, err := http.NewRequest(http.MethodGet, s.challenge.url+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	exemplar := fmt.Sprintf(`# {trace_id="%s"}`, trace)
	var withExemplar bool
	for line := range strings.Lines(string(body)) {
		if strings.HasPrefix(line, "http_request_duration_seconds_bucket{") && strings.Contains(line, `route="/challenges"`) &&
			strings.Contains(line, `method="POST"`) && strings.Contains(line, exemplar) {
			withExemplar = true
		}
	}
	if !withExemplar {
		t.Errorf("no bucket of http_request_duration_seconds{route=\"/challenges\",method=\"POST\"} has the exemplar %s", exemplar)
	}

	// A cached read says whether it hit.
	path := fmt.Sprintf("/challenges/logs/%d", ada.ID)
	s.challenge.api.Do(t, http.MethodGet, path, ada.Token, nil).Expect(t, http.StatusOK)
	s.challenge.api.Do(t, http.MethodGet, path, ada.Token, nil).Expect(t, http.StatusOK)
	results := map[string]bool{}
	poll(t, "a hit and a miss on GET /challenges/logs/:userId", func() bool {
		for _, sp := range rcv.all() {
			if sp.service == "challenge" && sp.Name == "GET /challenges/logs/:userId" {
				results[sp.attr("cache.user-logs.result")] = true
			}
		}
		return results["hit"] && results["miss"]
	}, func() string { return fmt.Sprintf("cache.user-logs.result values seen: %v", results) })
}

// span is one exported span with the service.name of its resource.
type span struct {
	*tracepb.Span
	service string
}

func (sp *span) attr(key string) string {
	for _, kv := range sp.Attributes {
		if kv.Key == key {
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

// otlpReceiver is an OTLP/HTTP trace endpoint (POST /v1/traces, protobuf)
// that keeps every span it is sent.
type otlpReceiver struct {
	url   string
	mu    sync.Mutex
	spans []*span
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" {
			http.Error(w, "only POST /v1/traces", http.StatusNotFound)
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var export collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &export); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.add(&export)
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	// Cleanups run last in, first out: the services, started after this,
	// stop (and flush) before the receiver closes.
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

func (r *otlpReceiver) add(export *collectortrace.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range export.ResourceSpans {
		var service string
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.Key == "service.name" {
				service = kv.Value.GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				r.spans = append(r.spans, &span{Span: sp, service: service})
			}
		}
	}
}

func (r *otlpReceiver) all() []*span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*span(nil), r.spans...)
}

func (r *otlpReceiver) find(match func(*span) bool) *span {
	for _, sp := range r.all() {
		if match(sp) {
			return sp
		}
	}
	return nil
}

func (r *otlpReceiver) trace(id []byte) []*span {
	var out []*span
	for _, sp := range r.all() {
		if bytes.Equal(sp.TraceId, id) {
			out = append(out, sp)
		}
	}
	return out
}

func (r *otlpReceiver) has(id []byte, match func(*span) bool) bool {
	for _, sp := range r.trace(id) {
		if match(sp) {
			return true
		}
	}
	return false
}

// descends reports whether anc is sp's parent, or its parent's, and so on.
func (r *otlpReceiver) descends(sp, anc *span) bool {
	byID := map[string]*span{}
	for _, s := range r.trace(sp.TraceId) {
		byID[string(s.SpanId)] = s
	}
	for cur, hops := sp, 0; cur != nil && hops < 100; hops++ {
		if bytes.Equal(cur.ParentSpanId, anc.SpanId) {
			return true
		}
		cur = byID[string(cur.ParentSpanId)]
	}
	return false
}

// describe lists the spans of the trace (hex id; "" for every span), for
// failure messages.
func (r *otlpReceiver) describe(trace string) string {
	var lines []string
	for _, sp := range r.all() {
		id := hex.EncodeToString(sp.TraceId)
		if trace != "" && id != trace {
			continue
		}
		lines = append(lines, fmt.Sprintf("%s %s/%x parent %x %s %q", id, sp.service, sp.SpanId, sp.ParentSpanId, sp.Kind, sp.Name))
	}
	sort.Strings(lines)
	if len(lines) > 80 {
		lines = append(lines[:80], fmt.Sprintf("... %d more", len(lines)-80))
	}
	return strings.Join(lines, "\n")
}
