package bench

// The seed phase: the users, challenges and logs every phase reads.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// seed creates the users (and their tokens) and the challenges and logs.
func (r *Runner) seed(ctx context.Context) error {
	cfg := r.cfg
	spec := SeedSpec{Users: cfg.Users, Challenges: cfg.Challenges, Logs: cfg.Logs, Concurrency: cfg.SeedConcurrency,
		Password: "bench-password-not-secret", EmailTag: strconv.FormatInt(time.Now().Unix(), 36), Progress: r.out}
	if r.own() {
		spec.EmailTag = "u"
	}
	if !r.needServices() && r.own() {
		// Ceilings only: no account service, so users are just ids.
		r.users = make([]*User, cfg.Users)
		for i := range r.users {
			r.users[i] = &User{ID: int64(i + 1), Token: "none"}
		}
	} else {
		r.logf("seeding %s users through the account service (signup, then one login each; %d at once)", FormatInt(int64(cfg.Users)), cfg.SeedConcurrency)
		users, su, li, err := SignupAndLogin(ctx, r.api, r.accountURL(), spec)
		if err != nil {
			return err
		}
		r.users = users
		r.report.Notes = append(r.report.Notes, fmt.Sprintf("seeding: %s sign-ups took %s, %s logins %s (%d at once%s)",
			FormatInt(int64(cfg.Users)), su.Round(100*time.Millisecond), FormatInt(int64(cfg.Users)), li.Round(100*time.Millisecond), cfg.SeedConcurrency, cheapNote(cfg.CheapHash && r.own())))
	}
	t0 := time.Now()
	switch {
	case cfg.SeedMode == "sql" && (r.own() || cfg.ChallengeDSN != ""):
		dsn := r.dsn("challenge")
		if !r.own() {
			dsn = cfg.ChallengeDSN
		}
		db, err := sql.Open("mysql", withParams(dsn, "parseTime=true&loc=UTC"))
		if err != nil {
			return err
		}
		defer db.Close()
		r.logf("seeding challenges and logs straight into the challenge database")
		if err := SeedSQL(ctx, db, r.users, spec); err != nil {
			return err
		}
	default:
		if !r.needServices() {
			return errors.New("API seeding needs the services")
		}
		if r.own() {
			if err := r.startChallenge(ctx, false); err != nil {
				return err
			}
			defer func() { _ = r.challenge.Stop(20 * time.Second); r.challenge = nil }()
		}
		r.logf("seeding challenges and logs through the challenge service's API")
		if err := SeedAPI(ctx, r.api, r.challengeURL(), r.users, spec); err != nil {
			return err
		}
	}
	r.report.Notes = append(r.report.Notes, fmt.Sprintf("seeding: challenges and logs (%s, %s) took %s",
		FormatInt(int64(cfg.Users*cfg.Challenges)), FormatInt(int64(cfg.Users*cfg.Challenges*cfg.Logs)), time.Since(t0).Round(100*time.Millisecond)))
	if cfg.Phases[PhaseGroups] {
		if err := r.seedGroups(ctx); err != nil {
			return fmt.Errorf("groups: %w", err)
		}
	}
	return nil
}

func cheapNote(cheap bool) string {
	if cheap {
		return "; the bench account service hashes with argon2id m=1 MiB, t=1 so seeding stays quick: logins are not what is measured"
	}
	return ""
}
