package ranking

// The read path: Page and Rank from Redis, a missing board rebuilt under a
// versioned singleflight, and the fallback computed in memory.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/progressive-overload/po/services/kit/internal/aside"
)

// Page returns the entries at positions offset to offset+limit-1 (from 0) of
// the board and how many the board has. limit is 1 to MaxLimit. Entries and
// their payloads may be shared with other readers: do not modify them.
func (s *Store) Page(ctx context.Context, board string, offset, limit int, load LoadFunc) (Page, error) {
	if err := checkPage(board, offset, limit, load); err != nil {
		return Page{}, err
	}
	// Positions are 64-bit in Redis; a start beyond any board reads nothing.
	stop := offset + limit - 1
	if stop < offset {
		stop = math.MaxInt
	}
	var page Page
	src, err := s.read(ctx, board, load,
		func(ctx context.Context, keys []string) (string, bool, error) {
			r, err := pageScript.Run(ctx, s.rdb, keys, offset, stop).Slice()
			if err != nil {
				return "", false, err
			}
			return parsePage(r, offset, &page)
		},
		func(b *memBoard) { page = b.page(offset, limit) })
	if err != nil {
		return Page{}, err
	}
	page.Source = src
	return page, nil
}

// Rank returns member's entry and position on the board; false when the
// member is not on it.
func (s *Store) Rank(ctx context.Context, board, member string, load LoadFunc) (Ranked, bool, error) {
	if err := checkBoard(board); err != nil {
		return Ranked{}, false, err
	}
	if err := checkMember(member); err != nil {
		return Ranked{}, false, err
	}
	if load == nil {
		return Ranked{}, false, fmt.Errorf("%w: nil LoadFunc", ErrInvalid)
	}
	var (
		r     Ranked
		found bool
	)
	_, err := s.read(ctx, board, load,
		func(ctx context.Context, keys []string) (string, bool, error) {
			res, err := rankScript.Run(ctx, s.rdb, keys, member).Slice()
			if err != nil {
				return "", false, err
			}
			return parseRank(res, member, &r, &found)
		},
		func(b *memBoard) { r, found = b.rank(member) })
	if err != nil {
		return Ranked{}, false, err
	}
	return r, found, nil
}

// errMalformed is a reply this package cannot read: the board was not
// written by it (or by this version of it).
var errMalformed = errors.New("ranking: malformed board in Redis")

// read answers one read. fromRedis asks Redis, bounded by Timeout; it reports
// the board's version when the board is missing, and ok when it has answered.
// fromBoard answers from a board computed in memory.
func (s *Store) read(ctx context.Context, name string, load LoadFunc,
	fromRedis func(ctx context.Context, keys []string) (version string, ok bool, err error),
	fromBoard func(*memBoard),
) (Source, error) {
	start := time.Now()
	src, err := s.readFrom(ctx, name, load, fromRedis, fromBoard)
	s.m.read(ctx, src, err, start)
	return src, err
}

func (s *Store) readFrom(ctx context.Context, name string, load LoadFunc,
	fromRedis func(ctx context.Context, keys []string) (string, bool, error),
	fromBoard func(*memBoard),
) (Source, error) {
	// A board whose update failed is not trusted until the retrier drops it.
	// The second pass is for a board that was written back while this
	// reader was on its way to load it.
	for pass := 0; pass < 2 && !s.retry.Pending(name) && s.brk.Allow(); pass++ {
		keys := s.keys(name)
		tctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
		version, ok, err := fromRedis(tctx, keys)
		cancel()
		switch {
		case errors.Is(err, errMalformed):
			s.brk.Success() // Redis answered
			s.log.WarnContext(ctx, "ranking board unreadable in Redis; dropping it", "board", name, "err", err)
			s.retry.Add([]string{name}, s.giveUp())
		case err != nil:
			s.report(ctx, err)
			if ctx.Err() != nil {
				return SourceRedis, ctx.Err()
			}
			s.log.DebugContext(ctx, "ranking read from Redis failed", "board", name, "err", err)
		case ok:
			s.brk.Success()
			return SourceRedis, nil
		default:
			s.brk.Success()
			if s.beforeJoin != nil {
				s.beforeJoin()
			}
			b, err := s.rebuild(ctx, name, version, load)
			if err != nil {
				return SourceRebuild, err
			}
			if b != nil {
				fromBoard(b)
				return SourceRebuild, nil
			}
			continue // written back since this reader missed it: read it there
		}
		break
	}
	b, err := s.fallback(ctx, name, load)
	if err != nil {
		if errors.Is(err, ErrOverloaded) {
			return sourceRefused, err
		}
		return SourceFallback, err
	}
	fromBoard(b)
	return SourceFallback, nil
}

// sourceRefused labels the reads refused with ErrOverloaded; no Page carries it.
const sourceRefused Source = "refused"

func parsePage(r []any, offset int, page *Page) (string, bool, error) {
	if len(r) < 2 {
		return "", false, fmt.Errorf("%w: page reply of %d items", errMalformed, len(r))
	}
	if exists, _ := r[0].(int64); exists == 0 {
		v, _ := r[1].(string)
		return v, false, nil
	}
	total, ok := r[1].(int64)
	if !ok || (len(r)-2)%3 != 0 {
		return "", false, fmt.Errorf("%w: page reply %T of %d items", errMalformed, r[1], len(r))
	}
	page.Total = int(total)
	page.Entries = make([]Ranked, 0, (len(r)-2)/3)
	for i := 2; i < len(r); i += 3 {
		e, err := decodeReply(r[i], r[i+1], r[i+2])
		if err != nil {
			return "", false, err
		}
		page.Entries = append(page.Entries, Ranked{Entry: e, Rank: offset + len(page.Entries) + 1})
	}
	return "", true, nil
}

func parseRank(r []any, member string, out *Ranked, found *bool) (string, bool, error) {
	if len(r) == 0 {
		return "", false, fmt.Errorf("%w: empty rank reply", errMalformed)
	}
	switch tag, _ := r[0].(int64); {
	case tag == 0 && len(r) == 2:
		v, _ := r[1].(string)
		return v, false, nil
	case tag == 1:
		*found = false
		return "", true, nil
	case tag == 2 && len(r) == 4:
		pos, ok := r[1].(int64)
		hv, ok2 := r[3].(string)
		if !ok || !ok2 {
			break
		}
		e, err := decodeReply(zmember(tiebreakOf(hv), member), r[2], hv)
		if err != nil {
			return "", false, err
		}
		*out, *found = Ranked{Entry: e, Rank: int(pos) + 1}, true
		return "", true, nil
	}
	return "", false, fmt.Errorf("%w: rank reply %v", errMalformed, r)
}

// tiebreakOf is the tiebreak at the head of a hash value.
func tiebreakOf(hv string) string {
	tiebreak, _, _ := strings.Cut(hv, "\x00")
	return tiebreak
}

func decodeReply(zm, score, hv any) (Entry, error) {
	z, ok1 := zm.(string)
	sc, ok2 := score.(string)
	h, ok3 := hv.(string)
	if !ok1 || !ok2 || !ok3 {
		return Entry{}, fmt.Errorf("%w: entry %T %T %T", errMalformed, zm, score, hv)
	}
	f, err := strconv.ParseFloat(sc, 64)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: score %q", errMalformed, sc)
	}
	e, err := decode(z, f, h)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: %v", errMalformed, err)
	}
	return e, nil
}

// rebuild loads the missing board once for all the readers that saw the same
// version. Keying the shared load by version too means a read that starts
// after an update returned never joins a load that started before it (the
// update bumped the version), so it cannot be handed a board without the
// update; kit/cache shares its fills the same way.
func (s *Store) rebuild(ctx context.Context, name, version string, load LoadFunc) (*memBoard, error) {
	ch := s.group.DoChan(name+"\x00"+version, func() (any, error) { return s.flight(ctx, name, version, load) })
	s.joined()
	var (
		b      *memBoard
		err    error
		shared bool
	)
	select {
	case r := <-ch:
		b, _ = r.Val.(*memBoard)
		err, shared = r.Err, r.Shared
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err == nil {
		return b, nil
	}
	var p *aside.PanicError
	if errors.As(err, &p) {
		panic(p)
	}
	// The shared load ran on the context of whichever reader started it; if that
	// one went away, the others still deserve an answer within their own time.
	if shared && ctx.Err() == nil && aside.IsContextErr(err) {
		return s.compute(ctx, name, load)
	}
	return nil, err
}

// flight is the body of one rebuild: load, then write if the version has not
// moved; if it has, an update may be missing from the load, so load again
// with the new version, up to rebuildAttempts loads. Its readers are answered
// from the last load, written or not: every load began after they read the
// version. It runs on a goroutine of its own, where a panic would kill the
// process, so it hands panics back to the readers.
func (s *Store) flight(ctx context.Context, name, version string, load LoadFunc) (b *memBoard, err error) {
	defer func() {
		if v := recover(); v != nil {
			b, err = nil, aside.Recovered("ranking load", v)
		}
	}()
	keys := s.keys(name)
	if s.written(ctx, keys) {
		return nil, nil
	}
	for attempt := 1; ; attempt++ {
		b, err = s.compute(ctx, name, load)
		if err != nil {
			s.m.rebuildFailed.Inc()
			return nil, err
		}
		written, current, err := s.write(ctx, keys, version, b)
		switch {
		case err != nil:
			s.m.rebuildFailed.Inc()
			s.log.DebugContext(ctx, "ranking rebuild write failed", "board", name, "err", err)
			return b, nil
		case written:
			s.m.rebuildWritten.Inc()
			return b, nil
		case attempt == rebuildAttempts:
			s.m.rebuildRaced.Inc()
			s.log.DebugContext(ctx, "ranking rebuild kept racing updates; answered without writing", "board", name, "loads", attempt)
			return b, nil
		}
		version = current
	}
}

// written reports whether the board is in Redis after all. A reader can see
// it missing, then reach the shared load only after the load of that version
// has written the board and finished; one EXISTS per rebuild spares such a
// reader a second load from the source. An error reports false: load.
func (s *Store) written(ctx context.Context, keys []string) bool {
	tctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	n, err := s.rdb.Exists(tctx, keys[1]).Result()
	return err == nil && n == 1
}

// compute loads the board and sorts it.
func (s *Store) compute(ctx context.Context, name string, load LoadFunc) (*memBoard, error) {
	entries, err := load(ctx, name)
	if err != nil {
		return nil, err
	}
	b, err := newBoard(entries)
	if err != nil {
		return nil, fmt.Errorf("board %q: %w", name, err)
	}
	return b, nil
}

// write stores the rebuilt board if its version is still version; otherwise
// it reports the current one.
func (s *Store) write(ctx context.Context, keys []string, version string, b *memBoard) (written bool, current string, err error) {
	ttl := s.jitteredTTL()
	args := make([]any, 0, 3+4*len(b.entries))
	args = append(args, version, ttl.Milliseconds(), (ttl + zsetGrace).Milliseconds())
	for i := range b.entries {
		e := &b.entries[i]
		args = append(args, zscore(e.Score), zmember(e.Tiebreak, e.Member), e.Member, hvalue(e.Tiebreak, e.Payload))
	}
	// The board is already paid for: store it even if the reader has gone.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.WriteTimeout)
	defer cancel()
	r, err := rebuildScript.Run(wctx, s.rdb, keys, args...).Slice()
	s.report(wctx, err)
	if err != nil {
		return false, "", err
	}
	if len(r) == 0 {
		return false, "", fmt.Errorf("%w: rebuild reply %v", errMalformed, r)
	}
	if ok, _ := r[0].(int64); ok == 1 {
		return true, "", nil
	}
	if len(r) == 2 {
		current, _ = r[1].(string)
	}
	return false, current, nil
}

// fallback computes the board from the source, Redis being unavailable or
// untrusted. Without a version, a reader shares only a computation that
// starts after it arrived (aside.BlindGroup), so it never misses a write that
// committed before its read. At most MaxFallbacks computations are admitted
// (running or queued); beyond that, ErrOverloaded.
func (s *Store) fallback(ctx context.Context, name string, load LoadFunc) (*memBoard, error) {
	call := s.blind.Do(name, s.admit, func() (b *memBoard, err error) {
		defer s.release()
		defer func() {
			if v := recover(); v != nil {
				b, err = nil, aside.Recovered("ranking load", v)
			}
		}()
		return s.compute(ctx, name, load)
	})
	if call == nil {
		return nil, ErrOverloaded
	}
	s.joined()
	b, err, shared := call.Wait(ctx)
	if err == nil {
		return b, nil
	}
	var p *aside.PanicError
	if errors.As(err, &p) {
		panic(p)
	}
	if shared && ctx.Err() == nil && aside.IsContextErr(err) {
		if !s.admit() {
			return nil, ErrOverloaded
		}
		defer s.release()
		return s.compute(ctx, name, load)
	}
	return nil, err
}

// admit takes one of the MaxFallbacks slots, if one is free.
func (s *Store) admit() bool {
	select {
	case s.slots <- struct{}{}:
		s.m.fallbacksInFlight.Inc()
		return true
	default:
		return false
	}
}

func (s *Store) release() {
	<-s.slots
	s.m.fallbacksInFlight.Dec()
}
