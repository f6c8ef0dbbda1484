package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	challengeclient "github.com/progressive-overload/po/services/challenge/api/client"
)

// LoadUser is a signed-in user of the load with the active challenges its
// logs are written to.
type LoadUser struct {
	ID         int64
	Token      string
	Challenges []int64
}

// Mix is the share of each kind of request.
type Mix struct{ Read, Log, Challenge float64 }

// Pick draws a kind from u in [0, 1).
func (m Mix) Pick(u float64) Kind {
	total := m.Read + m.Log + m.Challenge
	switch x := u * total; {
	case x < m.Read:
		return KindRead
	case x < m.Read+m.Log:
		return KindLog
	default:
		return KindChallenge
	}
}

// Load drives requests at a fixed rate through the balancer and records
// every sample, acknowledgement and read-after-write check.
type Load struct {
	Client   *challengeclient.ClientWithResponses
	Users    []*LoadUser
	Rate     float64
	Mix      Mix
	Timeout  time.Duration
	MaxInFl  int
	Ledger   *Ledger
	rng      *rand.Rand
	mu       sync.Mutex
	samples  []Sample
	raws     []RAWCheck
	inflight atomic.Int64
	skipped  atomic.Int64 // ticks not sent: MaxInFl requests were in flight
}

// RAWCheck is one read sent right after an acknowledged write of its user.
type RAWCheck struct {
	At    time.Time // the read was sent
	LogID int64
	Stale bool
}

// Samples returns a copy of the samples so far.
func (l *Load) Samples() []Sample {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.samples)
}

// RAWChecks returns a copy of the read-after-write checks so far.
func (l *Load) RAWChecks() []RAWCheck {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.raws)
}

// Skipped is the number of requests not sent because too many were in flight.
func (l *Load) Skipped() int64 { return l.skipped.Load() }

// InFlight is the number of requests waiting for an answer.
func (l *Load) InFlight() int64 { return l.inflight.Load() }

func (l *Load) record(s Sample) {
	l.mu.Lock()
	l.samples = append(l.samples, s)
	l.mu.Unlock()
}

// Run sends requests until ctx ends, then waits for those in flight.
func (l *Load) Run(ctx context.Context, seed uint64) {
	l.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var wg sync.WaitGroup
	defer wg.Wait()
	interval := time.Duration(float64(time.Second) / l.Rate)
	next := time.Now()
	n := 0
	for {
		next = next.Add(interval)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		if l.inflight.Load() >= int64(l.MaxInFl) {
			l.skipped.Add(1)
			continue
		}
		n++
		kind := l.Mix.Pick(l.rng.Float64())
		u := l.Users[l.rng.IntN(len(l.Users))]
		cid := u.Challenges[l.rng.IntN(len(u.Challenges))]
		sets, reps := int32(1+l.rng.IntN(5)), int32(1+l.rng.IntN(12))
		value := float64(20+l.rng.IntN(150)) + 0.5*float64(l.rng.IntN(2))
		note := fmt.Sprintf("chaos %d", n)
		l.inflight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer l.inflight.Add(-1)
			// The load's own context is not the request's: requests in
			// flight at the end finish and are counted.
			switch kind {
			case KindRead:
				l.read(u)
			case KindLog:
				l.writeLog(u, cid, sets, reps, value, note)
			case KindChallenge:
				l.createChallenge(u, n)
			}
		}()
	}
}

func bearer(token string) challengeclient.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

func (l *Load) sample(kind Kind, start time.Time, status int, err error) Sample {
	s := Sample{Kind: kind, Start: start, Latency: time.Since(start), Status: status}
	if err != nil {
		s.Status = 0
		s.Err = ErrClass(err)
	}
	l.record(s)
	return s
}

// read fetches the first page of u's logs and returns their ids (nil when
// the read failed).
func (l *Load) read(u *LoadUser) []int64 {
	ctx, cancel := context.WithTimeout(context.Background(), l.Timeout)
	defer cancel()
	start := time.Now()
	r, err := l.Client.ListUserLogsWithResponse(ctx, u.ID, nil, bearer(u.Token))
	status := 0
	if r != nil {
		status = r.StatusCode()
	}
	s := l.sample(KindRead, start, status, err)
	if s.Failed() || r.JSON200 == nil {
		return nil
	}
	ids := make([]int64, len(r.JSON200.Items))
	for i, it := range r.JSON200.Items {
		ids[i] = it.Id
	}
	return ids
}

func (l *Load) writeLog(u *LoadUser, cid int64, sets, reps int32, value float64, note string) {
	ctx, cancel := context.WithTimeout(context.Background(), l.Timeout)
	defer cancel()
	start := time.Now()
	r, err := l.Client.CreateWorkoutLogWithResponse(ctx, cid, challengeclient.CreateWorkoutLogRequest{Sets: sets, Reps: reps, Value: value, Note: &note}, bearer(u.Token))
	status := 0
	if r != nil {
		status = r.StatusCode()
	}
	s := l.sample(KindLog, start, status, err)
	if s.Status != http.StatusCreated || r.JSON201 == nil {
		return
	}
	l.Ledger.AckLog(LogAck{ID: r.JSON201.Id, ChallengeID: cid, UserID: u.ID, Sets: sets, Reps: reps, Value: value, Note: note, At: s.End()})
	// Read your write, through the balancer, on whichever replica it lands.
	at := time.Now()
	ids := l.read(u)
	if ids == nil {
		return // a failed read is counted as a failure, not as stale
	}
	l.mu.Lock()
	l.raws = append(l.raws, RAWCheck{At: at, LogID: r.JSON201.Id, Stale: !slices.Contains(ids, r.JSON201.Id)})
	l.mu.Unlock()
}

func (l *Load) createChallenge(u *LoadUser, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), l.Timeout)
	defer cancel()
	start := time.Now()
	title := fmt.Sprintf("Chaos %d", n)
	today := openapi_types.Date{Time: time.Now().UTC().Truncate(24 * time.Hour)}
	r, err := l.Client.CreateChallengeWithResponse(ctx, challengeclient.CreateChallengeRequest{Title: title, Exercise: "Squat", Unit: challengeclient.Kg,
		StartValue: 60, Increment: 2.5, IncrementEvery: 1, SessionsPerWeek: 3, Weeks: 8, StartDate: &today}, bearer(u.Token))
	status := 0
	if r != nil {
		status = r.StatusCode()
	}
	s := l.sample(KindChallenge, start, status, err)
	if s.Status != http.StatusCreated || r.JSON201 == nil {
		return
	}
	l.Ledger.AckChallenge(ChallengeAck{ID: r.JSON201.Id, UserID: u.ID, Title: title, At: s.End()})
}

// RAWBetween counts the checks sent in [from, to).
func RAWBetween(checks []RAWCheck, from, to time.Time) ReadChecks {
	var rc ReadChecks
	for _, c := range checks {
		if c.At.Before(from) || !c.At.Before(to) {
			continue
		}
		rc.Checked++
		if c.Stale {
			rc.Stale++
			if len(rc.Examples) < 3 {
				rc.Examples = append(rc.Examples, fmt.Sprintf("log %d missing from a read sent %s", c.LogID, c.At.UTC().Format(time.RFC3339Nano)))
			}
		}
	}
	return rc
}
