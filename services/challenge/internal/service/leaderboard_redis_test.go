package service_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/progressive-overload/po/services/kit/redisclient/redistest"
	"github.com/progressive-overload/po/services/kit/testkit"
	"github.com/progressive-overload/po/services/kit/testkit/apitest"
	"github.com/progressive-overload/po/services/kit/testkit/netproxy"
)

func (h *harness) boardKey(groupID int64) string {
	return fmt.Sprintf("%sleaderboard:{%d}", h.cfg.CacheKeyPrefix, groupID)
}

// boardReads reads ranking_reads_total of the leaderboards by source.
func (h *harness) boardReads(t testing.TB, source string) float64 {
	t.Helper()
	return apitest.Gather(t, h.reg).Value("ranking_reads_total", "name", "leaderboard", "source", source)
}

// twoOnABoard is a group of two validated participants who have logged:
// the owner one session, the joiner two.
func (h *harness) twoOnABoard(t testing.TB, owner, joiner int64) (groupJSON, int64) {
	t.Helper()
	ownerTok, joinerTok := h.user(t, owner), h.user(t, joiner)
	g := h.createGroup(t, ownerTok)
	p := h.join(t, joinerTok, h.invite(t, ownerTok, g.Id, nil).Code)
	h.validate(t, *g.YourChallengeId, owner, "Owner", 1)
	h.validate(t, p.ChallengeId, joiner, "Joiner", 2)
	h.logDay(t, ownerTok, *g.YourChallengeId, 1, 60, "")
	h.logDay(t, joinerTok, p.ChallengeId, 1, 60, "")
	h.logDay(t, joinerTok, p.ChallengeId, 2, 62.5, "")
	return g, p.ChallengeId
}

// The board lives in Redis: the first read rebuilds it from MySQL, the
// next ones are answered from Redis, a log moves its author's entry there
// after the commit (the next read sees it without a rebuild), and a board
// lost to a flush is rebuilt from MySQL once, however many read it at once.
func TestLeaderboardOnRedis(t *testing.T) {
	h := newHarness(t)
	const owner, joiner = 701, 702
	g, joinerChallenge := h.twoOnABoard(t, owner, joiner)
	ownerTok := h.user(t, owner)

	lb := h.leaderboard(t, ownerTok, g.Id, "")
	if got := names(lb); len(got) != 2 || got[0] != "1:Joiner" {
		t.Fatalf("board %v", got)
	}
	if !h.keyExists(t, h.boardKey(g.Id)) || h.boardReads(t, "rebuild") < 1 {
		t.Fatal("the first read did not rebuild the board into Redis")
	}
	loads := h.repo.boardLoads.Load()
	redisReads := h.boardReads(t, "redis")
	h.leaderboard(t, ownerTok, g.Id, "")
	if h.repo.boardLoads.Load() != loads || h.boardReads(t, "redis") <= redisReads {
		t.Fatal("the second read was not answered from Redis")
	}

	// The owner catches up: two more met sessions. The entry moves in
	// Redis after the commit; no rebuild.
	h.logDay(t, ownerTok, *g.YourChallengeId, 2, 62.5, "")
	h.logDay(t, ownerTok, *g.YourChallengeId, 3, 65, "")
	lb = h.leaderboard(t, ownerTok, g.Id, "")
	if got := names(lb); got[0] != "1:Owner" || lb.Items[0].TargetsMet != 3 || lb.You.Rank != 1 {
		t.Fatalf("after the owner's logs: %v %+v", got, lb.You)
	}
	if h.repo.boardLoads.Load() != loads {
		t.Fatal("a log made the board rebuild")
	}

	// A flush loses the board (and its version); a correction made while
	// it is gone is in the rebuild; concurrent readers share one load.
	h.cleanRedis()
	var fixed logJSON
	h.Do(t, "PATCH", logPath(joinerChallenge, h.joinerFirstLog(t, joinerChallenge)), h.user(t, joiner),
		map[string]any{"value": 57.5}).Expect(t, http.StatusOK).Decode(t, &fixed)
	const readers = 8
	var wg sync.WaitGroup
	results := make([]leaderboardJSON, readers)
	for i := range readers {
		wg.Go(func() {
			r, err := h.Try("GET", groupPath(g.Id, "/leaderboard"), ownerTok, nil)
			if err != nil || r.Status != http.StatusOK {
				t.Errorf("concurrent read: %v %v", r, err)
				return
			}
			r.Decode(t, &results[i])
		})
	}
	wg.Wait()
	if n := h.repo.boardLoads.Load() - loads; n != 1 {
		t.Fatalf("%d readers of a flushed board loaded it %d times, want once", readers, n)
	}
	for _, r := range results {
		if r.Total != 2 || r.Items[1].UserId != joiner || r.Items[1].TargetsMet != 1 {
			t.Fatalf("rebuilt board %+v", r)
		}
	}
	if !h.keyExists(t, h.boardKey(g.Id)) {
		t.Fatal("the rebuild did not write the board back")
	}
}

// joinerFirstLog is the id of the oldest log of a challenge.
func (h *harness) joinerFirstLog(t testing.TB, challengeID int64) int64 {
	t.Helper()
	var page logList
	h.Do(t, "GET", "/challenges/"+fmt.Sprint(challengeID)+"/logs", h.admin(t, 999), nil).Expect(t, http.StatusOK).Decode(t, &page)
	return page.Items[len(page.Items)-1].Id
}

// With Redis unreachable the board is computed from MySQL (counted as
// fallback reads), a new log shows on the next read, and once Redis is back
// reads return to it by themselves.
func TestLeaderboardRedisOutage(t *testing.T) {
	proxy := netproxy.Start(t, testkit.RedisAddr)
	h := newHarness(t, withRedisURL("redis://"+proxy.Addr()+"/0"))
	const owner, joiner = 711, 712
	g, _ := h.twoOnABoard(t, owner, joiner)
	ownerTok := h.user(t, owner)
	h.leaderboard(t, ownerTok, g.Id, "")

	proxy.Cut()
	fallbacks := h.boardReads(t, "fallback")
	if lb := h.leaderboard(t, ownerTok, g.Id, ""); lb.Total != 2 || lb.Items[0].UserId != joiner {
		t.Fatalf("board during the outage %+v", lb)
	}
	h.logDay(t, ownerTok, *g.YourChallengeId, 2, 62.5, "")
	h.logDay(t, ownerTok, *g.YourChallengeId, 3, 65, "")
	if lb := h.leaderboard(t, ownerTok, g.Id, ""); lb.Items[0].UserId != owner || lb.Items[0].TargetsMet != 3 {
		t.Fatalf("read after write during the outage %+v", lb)
	}
	if h.boardReads(t, "fallback") < fallbacks+2 {
		t.Fatal("the outage's reads were not counted as fallbacks")
	}

	proxy.Restore(t)
	testkit.Eventually(t, "leaderboard reads from Redis again, with the outage's logs", func() bool {
		before := h.boardReads(t, "redis") + h.boardReads(t, "rebuild")
		lb := h.leaderboard(t, ownerTok, g.Id, "")
		return h.boardReads(t, "redis")+h.boardReads(t, "rebuild") > before && lb.Items[0].UserId == owner && lb.Items[0].TargetsMet == 3
	})
}

// On a Redis Cluster a board's keys share the group's hash tag, so its
// scripts run there as on one server.
func TestLeaderboardOnRedisCluster(t *testing.T) {
	cl := redistest.StartCluster(t)
	h := newHarness(t, withRedisURL(cl.URL()))
	const owner, joiner = 721, 722
	g, _ := h.twoOnABoard(t, owner, joiner)
	ownerTok := h.user(t, owner)
	for range 2 {
		if lb := h.leaderboard(t, ownerTok, g.Id, ""); lb.Total != 2 || lb.Items[0].UserId != joiner {
			t.Fatalf("board on the cluster %+v", lb)
		}
	}
	h.logDay(t, ownerTok, *g.YourChallengeId, 2, 62.5, "")
	h.logDay(t, ownerTok, *g.YourChallengeId, 3, 65, "")
	if lb := h.leaderboard(t, ownerTok, g.Id, ""); lb.Items[0].UserId != owner {
		t.Fatalf("after a log on the cluster %+v", lb)
	}
	n, err := cl.Client(t).Exists(context.Background(), h.boardKey(g.Id)).Result()
	if err != nil || n != 1 {
		t.Fatalf("the board is not on the cluster: %d %v", n, err)
	}
	if f := h.boardReads(t, "fallback"); f != 0 {
		t.Fatalf("%v fallback reads on a healthy cluster", f)
	}
}

// A leaderboard read takes the group from MySQL once: what it uses of a
// group (id, owner, plan) never changes. The caller's place is read every
// time, so one who leaves is refused at once, and the group itself, read
// through the group's own routes, is current (joining closed).
func TestLeaderboardReadsItsGroupOnce(t *testing.T) {
	h := newHarness(t)
	const owner, joiner = 721, 722
	g, _ := h.twoOnABoard(t, owner, joiner)
	ownerTok, joinerTok := h.user(t, owner), h.user(t, joiner)

	before := h.repo.groupReads.Load()
	h.leaderboard(t, ownerTok, g.Id, "")
	h.leaderboard(t, joinerTok, g.Id, "")
	h.leaderboard(t, ownerTok, g.Id, "")
	if n := h.repo.groupReads.Load() - before; n != 1 {
		t.Fatalf("three leaderboard reads read the group %d times, want once", n)
	}

	var closed groupJSON
	h.Do(t, "PATCH", groupPath(g.Id, ""), ownerTok, map[string]any{"joiningOpen": false}).Expect(t, http.StatusOK).Decode(t, &closed)
	var got groupJSON
	h.Do(t, "GET", groupPath(g.Id, ""), joinerTok, nil).Expect(t, http.StatusOK).Decode(t, &got)
	if got.JoiningOpen {
		t.Fatal("the group read after closing it still says joining is open")
	}
	if lb := h.leaderboard(t, joinerTok, g.Id, ""); lb.Total != 2 {
		t.Fatalf("board after closing joining: %+v", lb)
	}
	h.Do(t, "DELETE", groupPath(g.Id, "/participants/"+strconv.Itoa(joiner)), joinerTok, nil).Expect(t, http.StatusNoContent)
	h.Do(t, "GET", groupPath(g.Id, "/leaderboard"), joinerTok, nil).Expect(t, http.StatusNotFound)
	if lb := h.leaderboard(t, ownerTok, g.Id, ""); lb.Total != 1 {
		t.Fatalf("board after the joiner left: %+v", lb)
	}
}
