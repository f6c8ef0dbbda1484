package service_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	entchallenge "github.com/progressive-overload/po/ent/challenge/challenge"
	"github.com/progressive-overload/po/ent/challenge/outboxevent"
	"github.com/progressive-overload/po/services/kit/events"
	"github.com/progressive-overload/po/services/kit/testkit"
	"github.com/progressive-overload/po/services/kit/testkit/netproxy"
)

// The account service's events, with the data docs/conventions.md gives them.
type answerData struct {
	ChallengeID int64  `json:"challengeId"`
	UserID      int64  `json:"userId"`
	Reason      string `json:"reason,omitempty"`
}

type userData struct {
	UserID int64 `json:"userId"`
}

type challengeDetail struct {
	ID           int64   `json:"id"`
	Status       string  `json:"status"`
	StatusReason *string `json:"statusReason"`
}

func (h *harness) challenge(t testing.TB, token string, id int64) challengeDetail {
	t.Helper()
	r := h.Do(t, "GET", "/challenges/"+strconv.FormatInt(id, 10), token, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET challenge %d: %d %s", id, r.Status, r.Body)
	}
	var c challengeDetail
	r.Decode(t, &c)
	return c
}

func (c challengeDetail) reason() string {
	if c.StatusReason == nil {
		return ""
	}
	return *c.StatusReason
}

func progressPath(id int64) string { return "/challenges/" + strconv.FormatInt(id, 10) + "/progress" }

// cacheProgress reads a challenge's progress twice so the cache holds it.
func (h *harness) cacheProgress(t testing.TB, token string, id int64) {
	t.Helper()
	h.Do(t, "GET", progressPath(id), token, nil)
	h.Do(t, "GET", progressPath(id), token, nil)
	if !h.keyExists(t, h.progressKey(id)) {
		t.Fatalf("progress of %d not cached", id)
	}
}

// setStatus stands in for a transition this test is not about.
func (h *harness) setStatus(t testing.TB, id int64, s entchallenge.Status) {
	t.Helper()
	if err := h.svc.Repo.Client().Challenge.UpdateOneID(id).SetStatus(s).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// user.validated: the pending challenge becomes active, and its cached
// progress, which shows the status, is dropped.
func TestUserValidatedActivates(t *testing.T) {
	h := newHarness(t)
	const uid = 301
	tok := h.user(t, uid)
	c := h.createChallenge(t, tok)
	h.cacheProgress(t, tok, c.Id)

	h.publish(t, accountEvent(t, "user.validated", answerData{ChallengeID: c.Id, UserID: uid}))
	h.waitSettled(t, "user.validated", events.ResultOK, 1)

	if got := h.challenge(t, tok, c.Id); got.Status != "active" || got.reason() != "" {
		t.Fatalf("after user.validated: %+v", got)
	}
	if h.keyExists(t, h.progressKey(c.Id)) {
		t.Fatal("the cached progress survived the status change")
	}
	var p progressJSON
	h.Do(t, "GET", progressPath(c.Id), tok, nil).Decode(t, &p)
	if p.Status != "active" {
		t.Fatalf("progress shows %q", p.Status)
	}
}

// user.rejected: the challenge is rejected with the account service's
// reason, and refuses logs from then on.
func TestUserRejectedRejects(t *testing.T) {
	h := newHarness(t)
	const uid = 302
	tok := h.user(t, uid)
	c := h.createChallenge(t, tok)
	h.logWorkout(t, tok, c.Id, 60) // a pending challenge takes logs
	h.cacheProgress(t, tok, c.Id)

	h.publish(t, accountEvent(t, "user.rejected", answerData{ChallengeID: c.Id, UserID: uid, Reason: "user suspended"}))
	h.waitSettled(t, "user.rejected", events.ResultOK, 1)

	if got := h.challenge(t, tok, c.Id); got.Status != "rejected" || got.reason() != "user suspended" {
		t.Fatalf("after user.rejected: %+v", got)
	}
	if h.keyExists(t, h.progressKey(c.Id)) {
		t.Fatal("the cached progress survived the rejection")
	}
	r := h.Do(t, "POST", "/challenges/"+strconv.FormatInt(c.Id, 10)+"/logs", tok, map[string]any{"sets": 3, "reps": 5, "value": 65})
	if r.Status != http.StatusConflict {
		t.Fatalf("log on a rejected challenge: %d %s", r.Status, r.Body)
	}
	r.Problem(t)
}

// An answer that comes after the challenge has moved on, or is gone, no
// longer applies: it is acknowledged, changes nothing, and is not
// dead-lettered.
func TestLateValidationAnswersAreDone(t *testing.T) {
	h := newHarness(t)
	const uid = 303
	tok := h.user(t, uid)
	archived := h.createChallenge(t, tok)
	deleted := h.createChallenge(t, tok)

	// The user was deleted meanwhile: the challenge was archived.
	h.publish(t, accountEvent(t, "user.deleted", userData{UserID: uid}))
	h.waitSettled(t, "user.deleted", events.ResultOK, 1)
	if r := h.Do(t, "DELETE", "/challenges/"+strconv.FormatInt(deleted.Id, 10), tok, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	h.publish(t,
		accountEvent(t, "user.validated", answerData{ChallengeID: archived.Id, UserID: uid}),
		accountEvent(t, "user.validated", answerData{ChallengeID: deleted.Id, UserID: uid}),
	)
	h.publish(t, accountEvent(t, "user.rejected", answerData{ChallengeID: archived.Id, UserID: uid, Reason: "user deleted"}))
	h.waitSettled(t, "user.validated", events.ResultOK, 2)
	h.waitSettled(t, "user.rejected", events.ResultOK, 1)

	if got := h.challenge(t, tok, archived.Id); got.Status != "archived" || got.reason() != "user deleted" {
		t.Fatalf("a late answer changed the archived challenge: %+v", got)
	}
	if r := h.Do(t, "GET", "/challenges/"+strconv.FormatInt(deleted.Id, 10), tok, nil); r.Status != http.StatusNotFound {
		t.Fatalf("the deleted challenge: %d %s", r.Status, r.Body)
	}
	ch := h.rawChannel(t)
	for _, sub := range []string{"user-validated", "user-rejected"} {
		if n := queueDepth(t, ch, h.queue(sub)+".dlq"); n != 0 {
			t.Errorf("%s dead-lettered %d late answers", sub, n)
		}
	}
}

// user.deleted: every challenge of the user that can be archived is, with
// the reason; a rejected one keeps its rejection; every cached read of the
// user is gone from Redis; other users are untouched.
func TestUserDeletedArchivesAndEmptiesTheCache(t *testing.T) {
	h := newHarness(t)
	const uid, other = 304, 305
	tok, otherTok := h.user(t, uid), h.user(t, other)
	pending := h.createChallenge(t, tok)
	active := h.createChallenge(t, tok)
	rejected := h.createChallenge(t, tok)
	h.setStatus(t, active.Id, entchallenge.StatusActive)
	h.setStatus(t, rejected.Id, entchallenge.StatusRejected)
	h.logWorkout(t, tok, active.Id, 60)
	theirs := h.createChallenge(t, otherTok)

	h.Do(t, "GET", userLogsPath(uid), tok, nil)
	h.Do(t, "GET", userLogsPath(other), otherTok, nil)
	for _, c := range []challengeJSON{pending, active, rejected} {
		h.cacheProgress(t, tok, c.Id)
	}
	h.cacheProgress(t, otherTok, theirs.Id)
	if !h.keyExists(t, h.userLogsKey(uid)) || !h.keyExists(t, h.userLogsKey(other)) {
		t.Fatal("logs pages not cached")
	}

	// A row written by a pod whose clock is ahead keeps its updated_at: it
	// never moves backwards.
	ahead := time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)
	client := h.svc.Repo.Client()
	if err := client.Challenge.UpdateOneID(active.Id).SetUpdatedAt(ahead).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	longAgo := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := client.Challenge.UpdateOneID(pending.Id).SetUpdatedAt(longAgo).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}

	h.publish(t, accountEvent(t, "user.deleted", userData{UserID: uid}))
	h.waitSettled(t, "user.deleted", events.ResultOK, 1)

	if row := client.Challenge.GetX(context.Background(), active.Id); !row.UpdatedAt.Equal(ahead) {
		t.Errorf("updated_at moved back from %v to %v", ahead, row.UpdatedAt)
	}
	if row := client.Challenge.GetX(context.Background(), pending.Id); !row.UpdatedAt.After(longAgo) {
		t.Errorf("updated_at of the archived challenge not moved: %v", row.UpdatedAt)
	}
	for _, c := range []challengeJSON{pending, active} {
		if got := h.challenge(t, tok, c.Id); got.Status != "archived" || got.reason() != "user deleted" {
			t.Errorf("challenge %d after user.deleted: %+v", c.Id, got)
		}
	}
	if got := h.challenge(t, tok, rejected.Id); got.Status != "rejected" {
		t.Errorf("the rejected challenge became %q", got.Status)
	}
	if got := h.challenge(t, otherTok, theirs.Id); got.Status != "pending" {
		t.Errorf("another user's challenge became %q", got.Status)
	}
	for _, key := range []string{h.userLogsKey(uid), h.progressKey(pending.Id), h.progressKey(active.Id), h.progressKey(rejected.Id)} {
		if h.keyExists(t, key) {
			t.Errorf("%s is still in Redis", key)
		}
	}
	if !h.keyExists(t, h.userLogsKey(other)) || !h.keyExists(t, h.progressKey(theirs.Id)) {
		t.Error("another user's cache was dropped")
	}
}

// user.suspended: the user's pending challenges are rejected; the others
// keep their status, and their cached progress.
func TestUserSuspendedRejectsPending(t *testing.T) {
	h := newHarness(t)
	const uid = 306
	tok := h.user(t, uid)
	p1 := h.createChallenge(t, tok)
	p2 := h.createChallenge(t, tok)
	active := h.createChallenge(t, tok)
	h.setStatus(t, active.Id, entchallenge.StatusActive)
	for _, c := range []challengeJSON{p1, p2, active} {
		h.cacheProgress(t, tok, c.Id)
	}

	h.publish(t, accountEvent(t, "user.suspended", userData{UserID: uid}))
	h.waitSettled(t, "user.suspended", events.ResultOK, 1)

	for _, c := range []challengeJSON{p1, p2} {
		if got := h.challenge(t, tok, c.Id); got.Status != "rejected" || got.reason() != "user suspended" {
			t.Errorf("pending challenge %d after user.suspended: %+v", c.Id, got)
		}
		if h.keyExists(t, h.progressKey(c.Id)) {
			t.Errorf("progress of %d survived its rejection", c.Id)
		}
	}
	if got := h.challenge(t, tok, active.Id); got.Status != "active" {
		t.Errorf("the active challenge became %q", got.Status)
	}
	if !h.keyExists(t, h.progressKey(active.Id)) {
		t.Error("the unchanged challenge's progress was dropped")
	}
}

// The same message delivered twice is applied once: the second delivery of
// a user.suspended would reject a challenge created in between, but the
// inbox knows the message.
func TestSameMessageAppliedOnce(t *testing.T) {
	h := newHarness(t)
	const uid = 307
	tok := h.user(t, uid)
	before := h.createChallenge(t, tok)
	evt := accountEvent(t, "user.suspended", userData{UserID: uid})

	h.publish(t, evt)
	h.waitSettled(t, "user.suspended", events.ResultOK, 1)
	after := h.createChallenge(t, tok)
	h.publish(t, evt, evt)
	h.waitSettled(t, "user.suspended", events.ResultDuplicate, 2)

	if got := h.challenge(t, tok, before.Id); got.Status != "rejected" {
		t.Fatalf("the first delivery did not apply: %+v", got)
	}
	if got := h.challenge(t, tok, after.Id); got.Status != "pending" {
		t.Fatalf("a redelivery applied the message again: %+v", got)
	}
	if got := h.consumed(t, "user.suspended", events.ResultOK); got != 1 {
		t.Fatalf("applied %v times", got)
	}
}

// A message that can never be applied (not an event at all, data that is
// not what the contract says, a user who does not own the challenge) goes to
// its queue's dead-letter queue, and the messages around it are applied.
func TestPoisonMessagesAreDeadLettered(t *testing.T) {
	h := newHarness(t)
	const uid = 308
	tok := h.user(t, uid)
	first, second, third := h.createChallenge(t, tok), h.createChallenge(t, tok), h.createChallenge(t, tok)

	h.publish(t, accountEvent(t, "user.validated", answerData{ChallengeID: first.Id, UserID: uid}))
	ch := h.rawChannel(t)
	if err := ch.PublishWithContext(context.Background(), h.cfg.AMQPExchange, "user.validated", true, false, amqp.Publishing{
		MessageId: "poison-1", Type: "user.validated", DeliveryMode: amqp.Persistent, Body: []byte("{not json"),
	}); err != nil {
		t.Fatal(err)
	}
	h.publish(t,
		accountEvent(t, "user.validated", map[string]any{"challengeId": "two", "userId": uid}),
		accountEvent(t, "user.validated", answerData{ChallengeID: second.Id, UserID: uid + 1}),
		accountEvent(t, "user.validated", answerData{ChallengeID: second.Id}),
		accountEvent(t, "user.deleted", map[string]any{"user": uid}),
	)
	h.publish(t, accountEvent(t, "user.validated", answerData{ChallengeID: third.Id, UserID: uid}))

	h.waitSettled(t, "user.validated", events.ResultOK, 2)
	h.waitSettled(t, "user.validated", events.ResultDead, 4)
	h.waitSettled(t, "user.deleted", events.ResultDead, 1)
	if n := queueDepth(t, ch, h.queue("user-validated")+".dlq"); n != 4 {
		t.Errorf("user-validated DLQ holds %d messages, want 4", n)
	}
	if n := queueDepth(t, ch, h.queue("user-deleted")+".dlq"); n != 1 {
		t.Errorf("user-deleted DLQ holds %d messages, want 1", n)
	}
	for id, want := range map[int64]string{first.Id: "active", second.Id: "pending", third.Id: "active"} {
		if got := h.challenge(t, tok, id); got.Status != want {
			t.Errorf("challenge %d is %s, want %s", id, got.Status, want)
		}
	}
	// The consumer goes on: another queue, and the poisoned one again.
	fourth := h.createChallenge(t, tok)
	h.publish(t, accountEvent(t, "user.rejected", answerData{ChallengeID: fourth.Id, UserID: uid, Reason: "user not found"}))
	h.publish(t, accountEvent(t, "user.validated", answerData{ChallengeID: second.Id, UserID: uid}))
	h.waitSettled(t, "user.rejected", events.ResultOK, 1)
	h.waitSettled(t, "user.validated", events.ResultOK, 3)
	if got := h.challenge(t, tok, second.Id); got.Status != "active" {
		t.Errorf("challenge %d is %s after its valid answer", second.Id, got.Status)
	}
}

// With the broker unreachable when the service starts, HTTP still answers,
// writes succeed and /readyz is ready; once the broker is back the events
// flow both ways without a restart.
func TestBrokerDownAtStart(t *testing.T) {
	proxy := netproxy.Start(t, "127.0.0.1:5672")
	proxy.Cut()
	h := newHarness(t, withAMQPURL("amqp://guest:guest@"+proxy.Addr()+"/"))
	const uid = 309
	tok := h.user(t, uid)

	c := h.createChallenge(t, tok)
	if r := h.Do(t, "GET", "/readyz", "", nil); r.Status != http.StatusOK {
		t.Fatalf("/readyz with the broker down: %d %s", r.Status, r.Body)
	}
	if got := h.challenge(t, tok, c.Id); got.Status != "pending" {
		t.Fatalf("status %q", got.Status)
	}

	// What the account service's queue would be.
	ch := h.rawChannel(t)
	if err := ch.ExchangeDeclare(h.cfg.AMQPExchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, "challenge.created", h.cfg.AMQPExchange, false, nil); err != nil {
		t.Fatal(err)
	}

	proxy.Restore(t)
	// challenge.created leaves the outbox once the relay has reconnected.
	testkit.Eventually(t, "the outbox to drain", func() bool { return h.countUnpublished(t) == 0 })
	if n := queueDepth(t, ch, q.Name); n != 1 {
		t.Fatalf("%d challenge.created messages reached the broker, want 1", n)
	}
	h.publish(t, accountEvent(t, "user.validated", answerData{ChallengeID: c.Id, UserID: uid}))
	h.waitSettled(t, "user.validated", events.ResultOK, 1)
	if got := h.challenge(t, tok, c.Id); got.Status != "active" {
		t.Fatalf("after the broker came back: %+v", got)
	}
}

// --- helpers --------------------------------------------------------------

func (h *harness) rawChannel(t testing.TB) *amqp.Channel {
	t.Helper()
	return testkit.Channel(t, testkit.AMQPURL)
}

func queueDepth(t testing.TB, ch *amqp.Channel, queue string) int {
	t.Helper()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		t.Fatalf("queue %s: %v", queue, err)
	}
	return q.Messages
}

func (h *harness) countUnpublished(t testing.TB) int {
	t.Helper()
	n, err := h.svc.Repo.Client().OutboxEvent.Query().Where(outboxevent.PublishedAtIsNil()).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}
