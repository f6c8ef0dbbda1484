// Package ceiling is the minimal Fiber program of the benchmark: three
// handlers that answer GET /{kind}/{userId} with a logs page the size of the
// real one, doing the least any service could do here.
//
//	/fixed/{userId}  a fixed body held in memory
//	/redis/{userId}  a bare Redis GET of <prefix><userId> (bodies set by the bench tool)
//	/mysql/{userId}  a bare indexed MySQL query of one user's newest logs, encoded as JSON
//
// No authentication, no metrics, no access log: the most a service on this
// machine could do, to compare the real endpoint with.
package ceiling

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"github.com/progressive-overload/po/services/challenge/api/client"
)

// Config is what the handlers need.
type Config struct {
	Body        []byte        // the fixed body
	Redis       *redis.Client // nil: /redis answers 503
	RedisPrefix string
	DB          *sql.DB // nil: /mysql answers 503
	PageSize    int
	Timeout     time.Duration // per Redis or MySQL call
}

// Log and Page are the contract's WorkoutLog and WorkoutLogList (the
// generated client's types): the ceiling answers the service's shape.
type (
	Log  = client.WorkoutLog
	Page = client.WorkoutLogList
)

// Query is the bare MySQL query: the same index range scan as the service's
// first page (user_id, performed_at DESC, id DESC).
const Query = "SELECT id, challenge_id, user_id, performed_at, sets, reps, value, note, created_at " +
	"FROM workout_logs WHERE user_id = ? ORDER BY performed_at DESC, id DESC LIMIT ?"

// New returns the Fiber app.
func New(cfg Config) *fiber.App {
	if cfg.PageSize <= 0 {
		cfg.PageSize = 20
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	// Concurrency bounds open connections below the file limit: under an
	// overload, connections whose clients gave up stay open until their
	// handler returns, and running out of descriptors would end the program.
	app := fiber.New(fiber.Config{DisableStartupMessage: true, Concurrency: 10000})
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	app.Get("/fixed/:userId", func(c *fiber.Ctx) error {
		if _, err := strconv.ParseInt(c.Params("userId"), 10, 64); err != nil {
			return c.SendStatus(fiber.StatusBadRequest)
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(cfg.Body)
	})
	app.Get("/redis/:userId", func(c *fiber.Ctx) error {
		if cfg.Redis == nil {
			return c.SendStatus(fiber.StatusServiceUnavailable)
		}
		id, err := strconv.ParseInt(c.Params("userId"), 10, 64)
		if err != nil {
			return c.SendStatus(fiber.StatusBadRequest)
		}
		ctx, cancel := context.WithTimeout(c.UserContext(), cfg.Timeout)
		defer cancel()
		b, err := cfg.Redis.Get(ctx, cfg.RedisPrefix+strconv.FormatInt(id, 10)).Bytes()
		switch {
		case errors.Is(err, redis.Nil):
			return c.SendStatus(fiber.StatusNotFound)
		case err != nil:
			return c.SendStatus(fiber.StatusServiceUnavailable)
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(b)
	})
	app.Get("/mysql/:userId", func(c *fiber.Ctx) error {
		if cfg.DB == nil {
			return c.SendStatus(fiber.StatusServiceUnavailable)
		}
		id, err := strconv.ParseInt(c.Params("userId"), 10, 64)
		if err != nil {
			return c.SendStatus(fiber.StatusBadRequest)
		}
		ctx, cancel := context.WithTimeout(c.UserContext(), cfg.Timeout)
		defer cancel()
		page, err := QueryPage(ctx, cfg.DB, id, cfg.PageSize)
		if err != nil {
			return c.SendStatus(fiber.StatusServiceUnavailable)
		}
		b, err := json.Marshal(page)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(b)
	})
	return app
}

// QueryPage runs Query for one user.
func QueryPage(ctx context.Context, db *sql.DB, userID int64, limit int) (Page, error) {
	rows, err := db.QueryContext(ctx, Query, userID, limit)
	if err != nil {
		return Page{}, err
	}
	defer rows.Close()
	page := Page{Items: make([]Log, 0, limit)}
	for rows.Next() {
		var l Log
		var note sql.NullString
		if err := rows.Scan(&l.Id, &l.ChallengeId, &l.UserId, &l.PerformedAt, &l.Sets, &l.Reps, &l.Value, &note, &l.CreatedAt); err != nil {
			return Page{}, err
		}
		if note.String != "" {
			l.Note = &note.String
		}
		page.Items = append(page.Items, l)
	}
	return page, rows.Err()
}

// SamplePage returns a synthetic page of n logs for user, shaped and sized
// like the service's, for when no real page is at hand.
func SamplePage(user int64, n int) []byte {
	base := time.Date(2026, 11, 20, 18, 30, 0, 123456000, time.UTC)
	page := Page{Items: make([]Log, n)}
	for i := range page.Items {
		page.Items[i] = Log{
			Id: 100000 + int64(n-i), ChallengeId: 4000 + int64(i%3), UserId: user,
			PerformedAt: base.Add(-time.Duration(i) * 56 * time.Hour), Sets: 3, Reps: 5,
			Value: 60 + 2.5*float64(n-i), CreatedAt: base.Add(-time.Duration(i)*56*time.Hour + time.Minute),
		}
	}
	cursor := "eyJwIjoiMjAyNi0xMC0wOVQxMDozMDowMC4xMjM0NTZaIiwiaSI6MTAwMDAxfQ"
	page.NextCursor = &cursor
	b, _ := json.Marshal(page)
	return b
}
