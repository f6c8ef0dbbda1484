package ranking_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/progressive-overload/po/services/kit/ranking"
	"github.com/progressive-overload/po/services/kit/testkit"
	"github.com/progressive-overload/po/services/kit/testkit/netproxy"
)

// The board's order: score descending, then tiebreak ascending (a prefix
// before its extensions), then member bytewise; the same from the rebuild's
// memory, from Redis and from the fallback.
func TestOrderingWithTies(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		f := b.fixture(t, ranking.Options{})
		want := []ranking.Entry{
			entry("7", 1e300, ""),
			entry("3", 100.5, "2024-01-01T00:00:00"),
			entry("1", 100.5, "2024-01-01T00:00:01"),
			entry("2", 100.5, "2024-01-01T00:00:010"), // the previous tiebreak extended: after it
			entry("10", 100.5, "2024-01-02"),
			entry("11", 100.5, "2024-01-02"), // equal score and tiebreak: member bytes, "10" < "11" < "9"
			entry("9", 100.5, "2024-01-02"),
			entry("é", 100.5, "2024-01-02"), // 0xc3 after every ASCII byte
			entry("4", 0, ""),
			entry("5", math.Copysign(0, -1), "a"), // -0 ties with 0
			entry("6", -2.25, ""),
			{Member: "8", Score: -1e-9, Tiebreak: "\xff", Payload: nil},
		}
		// -1e-9 is above -2.25: the expected order puts 8 before 6.
		want[10], want[11] = want[11], want[10]
		src := newSource()
		shuffled := slices.Clone(want)
		for i := range shuffled {
			j := (i * 7) % len(shuffled)
			shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
		}
		src.put("b", shuffled...)

		p, err := f.store.Page(ctx, "b", 0, 100, src.load)
		if err != nil {
			t.Fatal(err)
		}
		checkPage(t, p, 0, len(want), ranking.SourceRebuild, want...)
		p, err = f.store.Page(ctx, "b", 0, 100, src.load)
		if err != nil {
			t.Fatal(err)
		}
		checkPage(t, p, 0, len(want), ranking.SourceRedis, want...)
		if src.n() != 1 {
			t.Fatalf("%d loads, want 1", src.n())
		}
		// The layout the package documents: three keys of one hash tag.
		for _, k := range []string{f.zsetKey("b"), f.hashKey("b")} {
			if !f.exists(t, k) {
				t.Fatalf("%s missing", k)
			}
		}
		for i, w := range want {
			r, ok, err := f.store.Rank(ctx, "b", w.Member, src.load)
			if err != nil || !ok || r.Rank != i+1 || r.Score != w.Score || r.Tiebreak != w.Tiebreak || string(r.Payload) != string(w.Payload) {
				t.Fatalf("rank of %s: %+v, %v, %v; want rank %d", w.Member, r, ok, err, i+1)
			}
		}
		if got := f.reads(t, "redis"); got != 1+len(want) {
			t.Fatalf("%d reads from Redis, want %d", got, 1+len(want))
		}
	})
}

func TestPageSlicingAndTotals(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		f := b.fixture(t, ranking.Options{})
		src := newSource()
		var all []ranking.Entry
		for i := range 25 {
			all = append(all, entry(strconv.Itoa(i), float64(100-i), ""))
		}
		src.put("b", all...)
		cases := []struct{ offset, limit, from, to int }{
			{0, 10, 0, 10}, {10, 10, 10, 20}, {20, 10, 20, 25}, {24, 1, 24, 25},
			{25, 10, 25, 25}, {1000, 5, 25, 25}, {0, 1000, 0, 25}, {math.MaxInt - 1, 1000, 25, 25},
		}
		for round, want := range []ranking.Source{ranking.SourceRebuild, ranking.SourceRedis} {
			for _, c := range cases {
				if round == 0 {
					// Every case from a board rebuilt for it.
					if err := f.store.Drop(ctx, "b"); err != nil {
						t.Fatal(err)
					}
				}
				p, err := f.store.Page(ctx, "b", c.offset, c.limit, src.load)
				if err != nil {
					t.Fatal(err)
				}
				offset := min(c.offset, 25)
				checkPage(t, p, offset, 25, want, all[c.from:c.to]...)
				if p.Entries == nil {
					t.Fatal("nil Entries")
				}
			}
		}
	})
}

func TestRank(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		f := b.fixture(t, ranking.Options{})
		src := newSource()
		src.put("b", entry("a", 3, ""), entry("b", 2, ""), entry("c", 1, ""))

		// A miss rebuilds, whether or not the member is on the board.
		if _, ok, err := f.store.Rank(ctx, "b", "zz", src.load); err != nil || ok {
			t.Fatalf("absent member: %v, %v", ok, err)
		}
		r, ok, err := f.store.Rank(ctx, "b", "b", src.load)
		if err != nil || !ok || r.Rank != 2 || r.Member != "b" || r.Score != 2 || string(r.Payload) != `{"m":"b"}` {
			t.Fatalf("rank of b: %+v, %v, %v", r, ok, err)
		}
		if _, ok, err := f.store.Rank(ctx, "b", "zz", src.load); err != nil || ok {
			t.Fatalf("absent member from Redis: %v, %v", ok, err)
		}
		if got, want := []int{f.reads(t, "rebuild"), f.reads(t, "redis"), src.n()}, []int{1, 2, 1}; !slices.Equal(got, want) {
			t.Fatalf("rebuild reads, redis reads, loads = %v; want %v", got, want)
		}
		// An empty board exists in Redis: no load to learn nobody is on it.
		if _, ok, err := f.store.Rank(ctx, "empty", "a", src.load); err != nil || ok {
			t.Fatalf("empty board: %v, %v", ok, err)
		}
		p, err := f.store.Page(ctx, "empty", 0, 10, src.load)
		if err != nil {
			t.Fatal(err)
		}
		checkPage(t, p, 0, 0, ranking.SourceRedis)
		if src.n() != 2 {
			t.Fatalf("%d loads, want 2", src.n())
		}
	})
}

// Upsert moves an entry in place (its old zset member goes), adds a new one,
// and leaves the board's expiry where the rebuild set it.
func TestUpsertMovesAndKeepsTTL(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		f := b.fixture(t, ranking.Options{TTL: time.Hour})
		src := newSource()
		src.put("b", entry("a", 3, "t1"), entry("b", 2, "t1"), entry("c", 1, "t1"))
		if _, err := f.store.Page(ctx, "b", 0, 10, src.load); err != nil {
			t.Fatal(err)
		}
		// The rebuild's expiry is about an hour (±10%); make it recognisable.
		const ttl = 10 * time.Minute
		for _, k := range []string{f.zsetKey("b"), f.hashKey("b")} {
			if err := f.rdb.PExpire(ctx, k, ttl).Err(); err != nil {
				t.Fatal(err)
			}
		}

		moved := ranking.Entry{Member: "c", Score: 5, Tiebreak: "t0", Payload: []byte("new c")}
		added := entry("d", 2, "t0") // ties with b, earlier tiebreak: before it
		for _, e := range []ranking.Entry{moved, added} {
			src.put("b", e)
			if err := f.store.Upsert(ctx, "b", e); err != nil {
				t.Fatal(err)
			}
		}
		p, err := f.store.Page(ctx, "b", 0, 10, src.load)
		if err != nil {
			t.Fatal(err)
		}
		checkPage(t, p, 0, 4, ranking.SourceRedis, moved, entry("a", 3, "t1"), added, entry("b", 2, "t1"))
		if src.n() != 1 {
			t.Fatalf("%d loads, want 1", src.n())
		}
		zs, err := f.rdb.ZRange(ctx, f.zsetKey("b"), 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"t0\x00c", "t1\x00a", "t0\x00d", "t1\x00b"}; !slices.Equal(zs, want) {
			t.Fatalf("zset %q, want %q", zs, want)
		}
		for _, k := range []string{f.zsetKey("b"), f.hashKey("b")} {
			pttl, err := f.rdb.PTTL(ctx, k).Result()
			if err != nil || pttl <= 0 || pttl > ttl {
				t.Fatalf("%s: PTTL %v, %v; want the %v set before the updates", k, pttl, err, ttl)
			}
		}
		if got := f.count(t, "ranking_updates_total", "op=upsert", "result=ok"); got != 2 {
			t.Fatalf("%d upserts counted ok, want 2", got)
		}
	})
}

func TestRemove(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		f := b.fixture(t, ranking.Options{})
		src := newSource()
		src.put("b", entry("a", 2, ""), entry("b", 1, ""))
		if _, err := f.store.Page(ctx, "b", 0, 10, src.load); err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{"a", "nobody"} {
			src.remove("b", m)
			if err := f.store.Remove(ctx, "b", m); err != nil {
				t.Fatal(err)
			}
		}
		p, err := f.store.Page(ctx, "b", 0, 10, src.load)
		if err != nil {
			t.Fatal(err)
		}
		checkPage(t, p, 0, 1, ranking.SourceRedis, entry("b", 1, ""))
		if _, ok, err := f.store.Rank(ctx, "b", "a", src.load); err != nil || ok {
			t.Fatalf("removed member still ranked: %v, %v", ok, err)
		}
		// The last member leaves: the board is empty, still in Redis.
		src.remove("b", "b")
		if err := f.store.Remove(ctx, "b", "b"); err != nil {
			t.Fatal(err)
		}
		if f.exists(t, f.zsetKey("b")) {
			t.Fatal("the empty zset should be gone (Redis deletes empty sets)")
		}
		p, err = f.store.Page(ctx, "b", 0, 10, src.load)
		if err != nil {
			t.Fatal(err)
		}
		checkPage(t, p, 0, 0, ranking.SourceRedis)
		// Someone joins the empty board: the new zset expires with the board.
		e := entry("c", 1, "")
		src.put("b", e)
		if err := f.store.Upsert(ctx, "b", e); err != nil {
			t.Fatal(err)
		}
		p, err = f.store.Page(ctx, "b", 0, 10, src.load)
		if err != nil {
			t.Fatal(err)
		}
		checkPage(t, p, 0, 1, ranking.SourceRedis, e)
		hashTTL, err := f.rdb.PTTL(ctx, f.hashKey("b")).Result()
		if err != nil {
			t.Fatal(err)
		}
		zsetTTL, err := f.rdb.PTTL(ctx, f.zsetKey("b")).Result()
		if err != nil || zsetTTL < hashTTL || zsetTTL > hashTTL+2*time.Second {
			t.Fatalf("zset PTTL %v, %v; want just past the hash's %v", zsetTTL, err, hashTTL)
		}
		if src.n() != 1 {
			t.Fatalf("%d loads, want 1", src.n())
		}
	})
}

// An update of a board not in Redis only moves its version: nothing is
// written that the next read would take for a whole board.
func TestUpdateOfMissingBoardOnlyMovesVersion(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		f := b.fixture(t, ranking.Options{})
		if err := f.store.Upsert(ctx, "b", entry("a", 1, "")); err != nil {
			t.Fatal(err)
		}
		v1, err := f.rdb.Get(ctx, f.versionKey("b")).Int64()
		if err != nil {
			t.Fatal(err)
		}
		if err := f.store.Remove(ctx, "b", "a"); err != nil {
			t.Fatal(err)
		}
		v2, err := f.rdb.Get(ctx, f.versionKey("b")).Int64()
		if err != nil || v2 != v1+1 {
			t.Fatalf("version %d then %d, %v; want +1", v1, v2, err)
		}
		if f.exists(t, f.zsetKey("b")) || f.exists(t, f.hashKey("b")) {
			t.Fatal("an update created the board")
		}
		pttl, err := f.rdb.PTTL(ctx, f.versionKey("b")).Result()
		if err != nil || pttl < 4*time.Hour {
			t.Fatalf("version PTTL %v, %v; want it to outlive boards (over 4×1h×1.1)", pttl, err)
		}
	})
}

// A board that went away (flushed, expired, dropped) is rebuilt by one load
// however many readers want it at once.
func TestRebuildAfterFlushAndDropIsShared(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		f := b.fixture(t, ranking.Options{})
		src := newSource()
		for i := range 50 {
			src.put("b", entry(strconv.Itoa(i), float64(i), ""))
		}
		if _, err := f.store.Page(ctx, "b", 0, 10, src.load); err != nil {
			t.Fatal(err)
		}
		for round, forget := range []func(){
			func() { // FLUSHALL, as far as this test's keys go
				for _, k := range []string{f.zsetKey("b"), f.hashKey("b"), f.versionKey("b")} {
					if err := f.rdb.Del(ctx, k).Err(); err != nil {
						t.Fatal(err)
					}
				}
			},
			func() {
				if err := f.store.Drop(ctx, "b"); err != nil {
					t.Fatal(err)
				}
			},
		} {
			forget()
			if f.exists(t, f.hashKey("b")) {
				t.Fatalf("round %d: board still in Redis", round)
			}
			const readers = 50
			var joined atomic.Int32
			allJoined := make(chan struct{})
			ranking.SetOnJoin(f.store, func() {
				if joined.Add(1) == readers {
					close(allJoined)
				}
			})
			src.mu.Lock()
			src.hook = func(string) { <-allJoined }
			src.mu.Unlock()
			before := src.n()
			var wg sync.WaitGroup
			pages := make([]ranking.Page, readers)
			errs := make([]error, readers)
			for i := range readers {
				wg.Go(func() {
					if i%2 == 0 {
						pages[i], errs[i] = f.store.Page(ctx, "b", 0, 3, src.load)
						return
					}
					r, ok, err := f.store.Rank(ctx, "b", "49", src.load)
					if err == nil && (!ok || r.Rank != 1) {
						err = errors.New("49 not ranked first")
					}
					errs[i] = err
				})
			}
			wg.Wait()
			src.mu.Lock()
			src.hook = nil
			src.mu.Unlock()
			ranking.SetOnJoin(f.store, nil)
			if got := src.n() - before; got != 1 {
				t.Fatalf("round %d: %d loads for %d concurrent readers, want 1", round, got, readers)
			}
			for i := range readers {
				if errs[i] != nil {
					t.Fatalf("round %d, reader %d: %v", round, i, errs[i])
				}
				if i%2 == 0 {
					checkPage(t, pages[i], 0, 50, ranking.SourceRebuild,
						entry("49", 49, ""), entry("48", 48, ""), entry("47", 47, ""))
				}
			}
			p, err := f.store.Page(ctx, "b", 0, 1, src.load)
			if err != nil || p.Source != ranking.SourceRedis || p.Total != 50 {
				t.Fatalf("round %d: after the rebuild %+v, %v; want from Redis", round, p, err)
			}
		}
		if got := f.count(t, "ranking_rebuilds_total", "result=written"); got != 3 {
			t.Fatalf("%d rebuilds written, want 3", got)
		}
	})
}

// A reader that found the board missing but reaches the shared load only
// after that load has written the board and finished reads the board from
// Redis; it does not load it a second time. (Readers of a flushed board
// under CPU contention hit this window: one service test saw two loads.)
func TestLateReaderOfRebuiltBoardReadsRedis(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		f := b.fixture(t, ranking.Options{})
		src := newSource()
		src.put("b", entry("a", 2, ""), entry("z", 1, ""))
		var held atomic.Bool
		missed, release := make(chan struct{}), make(chan struct{})
		ranking.SetBeforeJoin(f.store, func() {
			if held.CompareAndSwap(false, true) {
				close(missed)
				<-release
			}
		})
		late := make(chan ranking.Page, 1)
		lateErr := make(chan error, 1)
		go func() {
			p, err := f.store.Page(ctx, "b", 0, 2, src.load)
			late <- p
			lateErr <- err
		}()
		<-missed
		first, err := f.store.Page(ctx, "b", 0, 2, src.load)
		if err != nil || first.Source != ranking.SourceRebuild {
			t.Fatalf("first reader %+v, %v; want a rebuild", first, err)
		}
		close(release)
		p := <-late
		if err := <-lateErr; err != nil {
			t.Fatal(err)
		}
		checkPage(t, p, 0, 2, ranking.SourceRedis, entry("a", 2, ""), entry("z", 1, ""))
		if got := src.n(); got != 1 {
			t.Fatalf("%d loads, want 1", got)
		}
	})
}

// A rebuild loads; a writer commits and upserts a member before the rebuild
// writes. The rebuild must not write its board (which misses the member): it
// loads again and writes that. Every read that starts after the upsert
// returned sees the member, and so does Redis.
func TestWriteRacingRebuild(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		f := b.fixture(t, ranking.Options{})
		src := newSource()
		src.put("b", entry("old", 1, ""))
		loading, release := make(chan struct{}), make(chan struct{})
		var first atomic.Bool
		src.hook = func(string) {
			// Only the first load blocks (a sync.Once would hold up the others too).
			if first.CompareAndSwap(false, true) {
				close(loading)
				<-release
			}
		}
		done := make(chan ranking.Page, 1)
		go func() {
			p, err := f.store.Page(ctx, "b", 0, 10, src.load)
			if err != nil {
				t.Error(err)
			}
			done <- p
		}()
		<-loading // the first load has read the source: it misses what follows
		joined := entry("new", 2, "")
		src.put("b", joined)
		if err := f.store.Upsert(ctx, "b", joined); err != nil {
			t.Fatal(err)
		}
		close(release)
		p := <-done
		// The racing reader started before the write; it got the reload all the same.
		checkPage(t, p, 0, 2, ranking.SourceRebuild, joined, entry("old", 1, ""))
		if src.n() != 2 {
			t.Fatalf("%d loads, want 2 (the first raced the write)", src.n())
		}
		p, err := f.store.Page(ctx, "b", 0, 10, src.load)
		if err != nil {
			t.Fatal(err)
		}
		checkPage(t, p, 0, 2, ranking.SourceRedis, joined, entry("old", 1, ""))
		if got := f.count(t, "ranking_rebuilds_total", "result=written"); got != 1 {
			t.Fatalf("%d rebuilds written, want 1", got)
		}
	})
}

// Updates that keep landing while the board loads: after the bounded number
// of loads, the readers get the last one and nothing is written.
func TestRebuildThatKeepsRacingDoesNotWrite(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		f := b.fixture(t, ranking.Options{})
		src := newSource()
		src.put("b", entry("m0", 0, ""))
		var n atomic.Int32
		src.hook = func(board string) {
			// A write commits and is applied while this load is in flight.
			e := entry("m"+strconv.Itoa(int(n.Add(1))), 0, "")
			src.put(board, e)
			if err := f.store.Upsert(ctx, board, e); err != nil {
				t.Error(err)
			}
		}
		p, err := f.store.Page(ctx, "b", 0, 10, src.load)
		if err != nil {
			t.Fatal(err)
		}
		// Three loads saw m0, then m0..m1, then m0..m2.
		checkPage(t, p, 0, 3, ranking.SourceRebuild, entry("m0", 0, ""), entry("m1", 0, ""), entry("m2", 0, ""))
		if src.n() != 3 {
			t.Fatalf("%d loads, want 3", src.n())
		}
		if f.exists(t, f.hashKey("b")) || f.exists(t, f.zsetKey("b")) {
			t.Fatal("a board that raced every load was written")
		}
		if got := f.count(t, "ranking_rebuilds_total", "result=raced"); got != 1 {
			t.Fatalf("%d rebuilds raced, want 1", got)
		}
		src.mu.Lock()
		src.hook = nil
		src.mu.Unlock()
		p, err = f.store.Page(ctx, "b", 0, 10, src.load)
		if err != nil || p.Source != ranking.SourceRebuild || p.Total != 4 {
			t.Fatalf("calm read: %+v, %v; want a written rebuild of 4", p, err)
		}
	})
}

// A read that starts after Upsert returned must not join a rebuild that
// loaded before the write, even one still in flight for the same board.
func TestReadAfterUpsertDoesNotJoinOlderRebuild(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		f := b.fixture(t, ranking.Options{})
		var joins atomic.Int32
		secondJoined := make(chan struct{})
		ranking.SetOnJoin(f.store, func() {
			if joins.Add(1) == 2 {
				close(secondJoined)
			}
		})
		src := newSource()
		src.put("b", entry("old", 1, ""))
		loading, release := make(chan struct{}), make(chan struct{})
		var first atomic.Bool
		src.hook = func(string) {
			// Only the first load blocks (a sync.Once would hold up the others too).
			if first.CompareAndSwap(false, true) {
				close(loading)
				<-release
			}
		}
		firstDone := make(chan ranking.Page, 1)
		go func() {
			p, err := f.store.Page(ctx, "b", 0, 10, src.load)
			if err != nil {
				t.Error(err)
			}
			firstDone <- p
		}()
		<-loading
		joined := entry("new", 2, "")
		src.put("b", joined)
		if err := f.store.Upsert(ctx, "b", joined); err != nil {
			t.Fatal(err)
		}
		secondDone := make(chan ranking.Page, 1)
		go func() {
			p, err := f.store.Page(ctx, "b", 0, 10, src.load)
			if err != nil {
				t.Error(err)
			}
			secondDone <- p
		}()
		// Once the second reader has picked its load, let the first finish: had
		// the second joined it, it would now receive the board without "new".
		<-secondJoined
		p := <-secondDone
		checkPage(t, p, 0, 2, ranking.SourceRebuild, joined, entry("old", 1, ""))
		close(release)
		<-firstDone
		p, err := f.store.Page(ctx, "b", 0, 10, src.load)
		if err != nil {
			t.Fatal(err)
		}
		checkPage(t, p, 0, 2, ranking.SourceRedis, joined, entry("old", 1, ""))
	})
}

// outageTimeout: go-redis retries a refused dial with backoff until the
// context ends, so a read during an outage costs the whole Timeout (until the
// breaker opens); long enough for a healthy call on a busy machine.
const outageTimeout = 250 * time.Millisecond

func TestRedisUnreachableFallsBack(t *testing.T) {
	ctx := context.Background()
	f := singleFixture(t, closedAddr(t), ranking.Options{Timeout: outageTimeout, MaxFallbacks: 2})
	src := newSource()
	src.put("a", entry("x", 2, ""), entry("y", 1, ""))
	const reads = 8 // past the breaker's threshold: skipped calls fall back too
	for range reads {
		p, err := f.store.Page(ctx, "a", 1, 5, src.load)
		if err != nil {
			t.Fatal(err)
		}
		checkPage(t, p, 1, 2, ranking.SourceFallback, entry("y", 1, ""))
	}
	r, ok, err := f.store.Rank(ctx, "a", "y", src.load)
	if err != nil || !ok || r.Rank != 2 {
		t.Fatalf("rank: %+v, %v, %v", r, ok, err)
	}
	if got := f.reads(t, "fallback"); got != reads+1 {
		t.Fatalf("%d fallback reads, want %d", got, reads+1)
	}
	if src.n() != reads+1 {
		t.Fatalf("%d loads, want %d", src.n(), reads+1)
	}

	// Two boards computing at once take both slots; a third is refused.
	started := make(chan string, 2)
	release := make(chan struct{})
	src.mu.Lock()
	src.hook = func(board string) {
		started <- board
		<-release
	}
	src.mu.Unlock()
	var wg sync.WaitGroup
	for _, board := range []string{"a", "b"} {
		wg.Go(func() {
			if _, err := f.store.Page(ctx, board, 0, 5, src.load); err != nil {
				t.Error(err)
			}
		})
	}
	<-started
	<-started
	if got := f.count(t, "ranking_fallbacks_in_flight"); got != 2 {
		t.Fatalf("%d fallbacks in flight, want 2", got)
	}
	if _, err := f.store.Page(ctx, "c", 0, 5, src.load); !errors.Is(err, ranking.ErrOverloaded) {
		t.Fatalf("third board: %v, want ErrOverloaded", err)
	}
	if _, _, err := f.store.Rank(ctx, "c", "x", src.load); !errors.Is(err, ranking.ErrOverloaded) {
		t.Fatalf("third board's rank: %v, want ErrOverloaded", err)
	}
	close(release)
	wg.Wait()
	src.mu.Lock()
	src.hook = nil
	src.mu.Unlock()
	if got := f.reads(t, "refused"); got != 2 {
		t.Fatalf("%d refused reads, want 2", got)
	}
	if got := f.count(t, "ranking_fallbacks_in_flight"); got != 0 {
		t.Fatalf("%d fallbacks in flight after they ended, want 0", got)
	}
	if _, err := f.store.Page(ctx, "c", 0, 5, src.load); err != nil {
		t.Fatalf("after the others ended: %v", err)
	}

	// An update cannot reach Redis: nil all the same, the board's drop queued.
	if err := f.store.Upsert(ctx, "a", entry("z", 3, "")); err != nil {
		t.Fatal(err)
	}
	if got := ranking.PendingDrops(f.store); got != 1 {
		t.Fatalf("%d drops pending, want 1", got)
	}
	if got := f.count(t, "ranking_updates_total", "op=upsert", "result=deferred"); got != 1 {
		t.Fatalf("%d upserts deferred, want 1", got)
	}
}

// A Redis that accepts connections and never answers costs a read its
// Timeout and an update its WriteTimeout, not a hang.
func TestRedisStuck(t *testing.T) {
	ctx := context.Background()
	f := singleFixture(t, blackhole(t), ranking.Options{Timeout: 20 * time.Millisecond, WriteTimeout: 50 * time.Millisecond})
	src := newSource()
	src.put("a", entry("x", 1, ""))
	for range 3 {
		p, err := f.store.Page(ctx, "a", 0, 5, src.load)
		if err != nil {
			t.Fatal(err)
		}
		checkPage(t, p, 0, 1, ranking.SourceFallback, entry("x", 1, ""))
	}
	if err := f.store.Remove(ctx, "a", "x"); err != nil {
		t.Fatal(err)
	}
	if got := f.count(t, "ranking_updates_total", "op=remove", "result=deferred"); got != 1 {
		t.Fatalf("%d removes deferred, want 1", got)
	}
}

// An update that fails while Redis still answers reads leaves a board in
// Redis that misses it. Until the background drop succeeds, this process must
// read the board from the source; after it, the board is rebuilt.
func TestFailedUpdateReadsFromSourceUntilDropped(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		f := b.fixture(t, ranking.Options{})
		src := newSource()
		src.put("b", entry("a", 2, ""), entry("b", 1, ""))
		if _, err := f.store.Page(ctx, "b", 0, 10, src.load); err != nil {
			t.Fatal(err)
		}
		// The version is no longer a number: every update script, and the
		// retrier's drops, fail in Redis, while reads still work.
		if err := f.rdb.Set(ctx, f.versionKey("b"), "jammed", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		moved := entry("b", 3, "")
		src.put("b", moved)
		if err := f.store.Upsert(ctx, "b", moved); err != nil {
			t.Fatalf("Upsert after a committed write failed in Redis: %v; want nil", err)
		}
		if got := f.count(t, "ranking_updates_total", "op=upsert", "result=deferred"); got != 1 {
			t.Fatalf("%d upserts deferred, want 1", got)
		}
		if zs, err := f.rdb.ZRange(ctx, f.zsetKey("b"), 0, -1).Result(); err != nil || !slices.Equal(zs, []string{"\x00a", "\x00b"}) {
			t.Fatalf("precondition: Redis should still hold the old order: %q, %v", zs, err)
		}
		want := []ranking.Entry{moved, entry("a", 2, "")}
		for range 3 {
			p, err := f.store.Page(ctx, "b", 0, 10, src.load)
			if err != nil {
				t.Fatal(err)
			}
			checkPage(t, p, 0, 2, ranking.SourceFallback, want...)
			r, ok, err := f.store.Rank(ctx, "b", "b", src.load)
			if err != nil || !ok || r.Rank != 1 {
				t.Fatalf("rank of b: %+v, %v, %v; want 1 from the source", r, ok, err)
			}
		}
		if got := ranking.PendingDrops(f.store); got != 1 {
			t.Fatalf("%d drops pending, want 1", got)
		}

		// Redis takes writes again: the retrier drops the board, reads trust Redis.
		if err := f.rdb.Set(ctx, f.versionKey("b"), "7", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, "the board's drop", func() bool { return ranking.PendingDrops(f.store) == 0 })
		if f.exists(t, f.hashKey("b")) || f.exists(t, f.zsetKey("b")) {
			t.Fatal("the stale board is still in Redis")
		}
		if v, err := f.rdb.Get(ctx, f.versionKey("b")).Result(); err != nil || v != "8" {
			t.Fatalf("version %q, %v; want 8 (the drop bumps it)", v, err)
		}
		p, err := f.store.Page(ctx, "b", 0, 10, src.load)
		if err != nil {
			t.Fatal(err)
		}
		checkPage(t, p, 0, 2, ranking.SourceRebuild, want...)
		p, err = f.store.Page(ctx, "b", 0, 10, src.load)
		if err != nil {
			t.Fatal(err)
		}
		checkPage(t, p, 0, 2, ranking.SourceRedis, want...)
	})
}

func TestLoadErrorIsReturnedAndNotWritten(t *testing.T) {
	ctx := context.Background()
	f := backends[0].fixture(t, ranking.Options{})
	load := func(context.Context, string) ([]ranking.Entry, error) { return nil, errBoom }
	if _, err := f.store.Page(ctx, "b", 0, 10, load); !errors.Is(err, errBoom) {
		t.Fatalf("%v, want errBoom", err)
	}
	if _, _, err := f.store.Rank(ctx, "b", "m", load); !errors.Is(err, errBoom) {
		t.Fatalf("%v, want errBoom", err)
	}
	if f.exists(t, f.hashKey("b")) {
		t.Fatal("a failed load wrote a board")
	}
	if got := f.count(t, "ranking_rebuilds_total", "result=failed"); got != 2 {
		t.Fatalf("%d rebuilds failed, want 2", got)
	}
}

func TestLoadPanicReachesCaller(t *testing.T) {
	f := backends[0].fixture(t, ranking.Options{})
	defer func() {
		err, ok := recover().(error)
		if !ok || !errors.Is(err, errBoom) {
			t.Fatalf("recovered %v, want a panic wrapping errBoom", err)
		}
	}()
	_, _ = f.store.Page(context.Background(), "b", 0, 1, func(context.Context, string) ([]ranking.Entry, error) { panic(errBoom) })
	t.Fatal("Page returned after its load panicked")
}

// The shared rebuild runs on the context of the reader that started it; if
// that reader goes away, the others still get an answer.
func TestSharedRebuildSurvivesFirstReaderLeaving(t *testing.T) {
	f := backends[0].fixture(t, ranking.Options{})
	var joined atomic.Int32
	bothJoined := make(chan struct{})
	ranking.SetOnJoin(f.store, func() {
		if joined.Add(1) == 2 {
			close(bothJoined)
		}
	})
	started := make(chan struct{})
	var calls atomic.Int32
	load := func(ctx context.Context, string string) ([]ranking.Entry, error) {
		if calls.Add(1) == 1 {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return []ranking.Entry{entry("a", 1, "")}, nil
	}
	firstCtx, cancelFirst := context.WithCancel(context.Background())
	firstDone := make(chan error, 1)
	go func() {
		_, err := f.store.Page(firstCtx, "b", 0, 1, load)
		firstDone <- err
	}()
	<-started
	secondDone := make(chan ranking.Page, 1)
	go func() {
		p, err := f.store.Page(context.Background(), "b", 0, 1, load)
		if err != nil {
			t.Error(err)
		}
		secondDone <- p
	}()
	<-bothJoined
	cancelFirst()
	if err := <-firstDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("first reader: %v, want context.Canceled", err)
	}
	checkPage(t, <-secondDone, 0, 1, ranking.SourceRebuild, entry("a", 1, ""))
}

func TestValidation(t *testing.T) {
	ctx := context.Background()
	f := backends[0].fixture(t, ranking.Options{})
	src := newSource()
	long := string(make([]byte, 129))
	for _, c := range []struct {
		what string
		err  error
	}{
		{"empty board", f.store.Drop(ctx, "")},
		{"long board", f.store.Drop(ctx, long)},
		{"brace in board", f.store.Drop(ctx, "a{b")},
		{"closing brace in board", f.store.Remove(ctx, "a}", "m")},
		{"empty member", f.store.Remove(ctx, "b", "")},
		{"long member", f.store.Upsert(ctx, "b", ranking.Entry{Member: long})},
		{"NaN", f.store.Upsert(ctx, "b", ranking.Entry{Member: "m", Score: math.NaN()})},
		{"+Inf", f.store.Upsert(ctx, "b", ranking.Entry{Member: "m", Score: math.Inf(1)})},
		{"-Inf", f.store.Upsert(ctx, "b", ranking.Entry{Member: "m", Score: math.Inf(-1)})},
		{"long tiebreak", f.store.Upsert(ctx, "b", ranking.Entry{Member: "m", Tiebreak: string(make([]byte, 65))})},
		{"NUL in tiebreak", f.store.Upsert(ctx, "b", ranking.Entry{Member: "m", Tiebreak: "a\x00b"})},
		{"limit 0", pageErr(f.store.Page(ctx, "b", 0, 0, src.load))},
		{"limit 1001", pageErr(f.store.Page(ctx, "b", 0, 1001, src.load))},
		{"negative offset", pageErr(f.store.Page(ctx, "b", -1, 10, src.load))},
		{"nil load", pageErr(f.store.Page(ctx, "b", 0, 10, nil))},
		{"rank of empty member", rankErr(f.store.Rank(ctx, "b", "", src.load))},
		{"rank with nil load", rankErr(f.store.Rank(ctx, "b", "m", nil))},
	} {
		if !errors.Is(c.err, ranking.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", c.what, c.err)
		}
	}
	// At the limits: accepted.
	if err := f.store.Upsert(ctx, "b", ranking.Entry{Member: strings.Repeat("m", 128), Tiebreak: strings.Repeat("t", 64), Score: -math.MaxFloat64}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Page(ctx, strings.Repeat("b", 128), 0, 1000, src.load); err != nil {
		t.Fatal(err)
	}

	// What a load returns is held to the same rules.
	for what, es := range map[string][]ranking.Entry{
		"duplicate member": {entry("a", 1, ""), entry("a", 2, "")},
		"NaN score":        {{Member: "a", Score: math.NaN()}},
		"empty member":     {{Member: ""}},
	} {
		load := func(context.Context, string) ([]ranking.Entry, error) { return es, nil }
		if _, err := f.store.Page(ctx, "loaded", 0, 10, load); !errors.Is(err, ranking.ErrInvalid) {
			t.Errorf("loaded %s: %v, want ErrInvalid", what, err)
		}
	}
	if f.exists(t, f.hashKey("loaded")) {
		t.Fatal("an invalid load was written")
	}

	for _, o := range []ranking.Options{{}, {Name: "a{b"}, {Name: "n", Prefix: "p}"}} {
		if _, err := ranking.New(f.rdb, o); !errors.Is(err, ranking.ErrInvalid) {
			t.Errorf("options %+v: %v, want ErrInvalid", o, err)
		}
	}
}

func pageErr(_ ranking.Page, err error) error           { return err }
func rankErr(_ ranking.Ranked, _ bool, err error) error { return err }

// A board in Redis that this package cannot read (not written by it) is not
// served: the read falls back, and the board is dropped and rebuilt.
func TestMalformedBoardIsDropped(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		f := b.fixture(t, ranking.Options{})
		src := newSource()
		src.put("b", entry("a", 1, ""))
		// A zset member without its hash entry.
		if err := f.rdb.HSet(ctx, f.hashKey("b"), "", "").Err(); err != nil {
			t.Fatal(err)
		}
		if err := f.rdb.ZAdd(ctx, f.zsetKey("b"), redis.Z{Score: -1, Member: "\x00a"}).Err(); err != nil {
			t.Fatal(err)
		}
		p, err := f.store.Page(ctx, "b", 0, 10, src.load)
		if err != nil {
			t.Fatal(err)
		}
		checkPage(t, p, 0, 1, ranking.SourceFallback, entry("a", 1, ""))
		testkit.Eventually(t, "the malformed board's drop", func() bool { return ranking.PendingDrops(f.store) == 0 })
		p, err = f.store.Page(ctx, "b", 0, 10, src.load)
		if err != nil {
			t.Fatal(err)
		}
		checkPage(t, p, 0, 1, ranking.SourceRebuild, entry("a", 1, ""))
	})
}

// Reads fall back while Redis is away and come back to it by themselves
// (the breaker closes on its first successful probe).
func TestRecoversAfterOutage(t *testing.T) {
	ctx := context.Background()
	p := netproxy.Start(t, testkit.RedisAddr)
	f := singleFixture(t, p.Addr(), ranking.Options{Timeout: outageTimeout})
	src := newSource()
	src.put("b", entry("a", 1, ""))
	for _, want := range []ranking.Source{ranking.SourceRebuild, ranking.SourceRedis} {
		pg, err := f.store.Page(ctx, "b", 0, 10, src.load)
		if err != nil || pg.Source != want {
			t.Fatalf("%+v, %v; want from %s", pg, err, want)
		}
	}
	p.Cut()
	for range 10 {
		pg, err := f.store.Page(ctx, "b", 0, 10, src.load)
		if err != nil {
			t.Fatal(err)
		}
		checkPage(t, pg, 0, 1, ranking.SourceFallback, entry("a", 1, ""))
	}
	p.Restore(t)
	testkit.Eventually(t, "a read from Redis after it came back", func() bool {
		pg, err := f.store.Page(ctx, "b", 0, 10, src.load)
		if err != nil {
			t.Fatal(err)
		}
		return pg.Source == ranking.SourceRedis
	})
}
