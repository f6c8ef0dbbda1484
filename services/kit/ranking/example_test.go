package ranking_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/progressive-overload/po/services/kit/ranking"
	"github.com/progressive-overload/po/services/kit/redisclient"
	"github.com/progressive-overload/po/services/kit/testkit"
)

// How a service uses a leaderboard: a LoadFunc that reads every entry of a
// board from MySQL, pages and ranks read through the store, and an update
// after each commit that changes an entry. It runs against the test Redis, in
// a key space of its own.
func Example() {
	// REDIS_URL; a redis+cluster:// or redis+sentinel:// URL works the same.
	rdb, err := redisclient.New("redis://"+testkit.RedisAddr+"/0", redisclient.Options{})
	if err != nil {
		panic(err)
	}
	defer rdb.Close()
	prefix := testkit.NewRedisPrefix()
	defer testkit.DeleteRedisKeys(rdb, prefix)

	boards, err := ranking.New(rdb, ranking.Options{
		Prefix:   prefix, // e.g. CACHE_KEY_PREFIX
		Name:     "leaderboard",
		Timeout:  time.Second,              // 50ms in production; a busy test machine needs more
		Registry: prometheus.NewRegistry(), // the httpserver's registry
	})
	if err != nil {
		panic(err) // invalid options
	}
	defer boards.Close()
	ctx := context.Background()

	// The database: a group's members, their score and when they reached it.
	db := map[string]ranking.Entry{
		"1": {Member: "1", Score: 1200, Tiebreak: "20240102T0900", Payload: []byte(`{"user":"ada"}`)},
		"2": {Member: "2", Score: 1200, Tiebreak: "20240101T1800", Payload: []byte(`{"user":"bob"}`)},
		"3": {Member: "3", Score: 800, Tiebreak: "20240101T0700", Payload: []byte(`{"user":"cy"}`)},
	}
	load := func(ctx context.Context, board string) ([]ranking.Entry, error) {
		// SELECT … WHERE group = board; a new slice every time (the store keeps it).
		var es []ranking.Entry
		for _, e := range db {
			es = append(es, e)
		}
		return es, nil
	}
	show := func() {
		page, err := boards.Page(ctx, "group-7", 0, 20, load)
		switch {
		case errors.Is(err, ranking.ErrOverloaded):
			fmt.Println("503") // with Retry-After
			return
		case err != nil:
			fmt.Println("500:", err) // the load failed; Redis errors never get here
			return
		}
		fmt.Printf("%d members (%s):", page.Total, page.Source)
		for _, r := range page.Entries {
			fmt.Printf(" %d.%s", r.Rank, r.Payload)
		}
		fmt.Println()
	}
	show() // the board is built from the database
	show() // then read from Redis

	// A session logged: the transaction commits, then the board follows.
	cy := db["3"]
	cy.Score, cy.Tiebreak = 1300, "20240103T0800"
	db["3"] = cy
	if err := boards.Upsert(ctx, "group-7", cy); err != nil {
		panic(err) // only invalid arguments; Redis failures are handled
	}
	show()
	if r, ok, err := boards.Rank(ctx, "group-7", "1", load); err == nil && ok {
		fmt.Printf("ada is #%d\n", r.Rank)
	}

	// Output:
	// 3 members (rebuild): 1.{"user":"bob"} 2.{"user":"ada"} 3.{"user":"cy"}
	// 3 members (redis): 1.{"user":"bob"} 2.{"user":"ada"} 3.{"user":"cy"}
	// 3 members (redis): 1.{"user":"cy"} 2.{"user":"bob"} 3.{"user":"ada"}
	// ada is #3
}
