package migrations_test

import (
	"database/sql"
	"io/fs"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/progressive-overload/po/ent/challenge"
	entchallenge "github.com/progressive-overload/po/ent/challenge/challenge"
	"github.com/progressive-overload/po/ent/challenge/migrate"
	"github.com/progressive-overload/po/ent/challenge/migrations"
	"github.com/progressive-overload/po/ent/challenge/workoutlog"
	"github.com/progressive-overload/po/ent/internal/migcheck"
	"github.com/progressive-overload/po/services/kit/dbmigrate"
	"github.com/progressive-overload/po/services/kit/mysqldb"
	"github.com/progressive-overload/po/services/kit/mysqldb/mysqltest"
)

func migrated(t *testing.T) *sql.DB {
	t.Helper()
	ctx := t.Context()
	dsn := mysqltest.NewDatabase(t)
	ups, err := fs.Glob(migrations.FS, "*.up.sql")
	if err != nil || len(ups) == 0 {
		t.Fatalf("no up migrations embedded (err %v)", err)
	}
	n, err := dbmigrate.Up(ctx, dsn, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(ups) {
		t.Fatalf("first Up applied %d migrations, want %d", n, len(ups))
	}
	db, err := mysqldb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestUpTwiceIsNoop(t *testing.T) {
	ctx := t.Context()
	dsn := mysqltest.NewDatabase(t)
	first, err := dbmigrate.Up(ctx, dsn, migrations.FS)
	if err != nil || first == 0 {
		t.Fatalf("first Up: applied %d, err %v", first, err)
	}
	again, err := dbmigrate.Up(ctx, dsn, migrations.FS)
	if err != nil || again != 0 {
		t.Fatalf("second Up: applied %d, err %v; want 0, nil", again, err)
	}
}

func TestMigrationsMatchSchema(t *testing.T) {
	migcheck.CheckInSync(t, migrate.Tables, os.DirFS("."))
}

func TestTablesAndIndexes(t *testing.T) {
	db := migrated(t)

	want := []string{"challenges", "challenge_groups", "group_invites", "group_participants", "inbox_messages",
		"outbox_events", dbmigrate.Table, "user_profiles", "workout_logs"}
	if got := migcheck.Tables(t, db); !slices.Equal(got, want) {
		t.Fatalf("tables = %v, want %v", got, want)
	}

	idx := func(unique bool, cols ...string) migcheck.Index { return migcheck.Index{Unique: unique, Columns: cols} }
	for table, want := range map[string]map[string]migcheck.Index{
		"challenges": {
			"PRIMARY":                     idx(true, "id"),
			"challenge_user_id_status_id": idx(false, "user_id", "status", "id"),
			"challenges_challenge_groups_participations": idx(false, "group_id"),
		},
		"user_profiles": {
			"PRIMARY": idx(true, "id"),
		},
		"challenge_groups": {
			"PRIMARY":                 idx(true, "id"),
			"challengegroup_owner_id": idx(false, "owner_id"),
		},
		"group_participants": {
			"PRIMARY":                           idx(true, "id"),
			"challenge_id":                      idx(true, "challenge_id"),
			"groupparticipant_group_id_user_id": idx(true, "group_id", "user_id"),
			"groupparticipant_user_id_status":   idx(false, "user_id", "status"),
		},
		"group_invites": {
			"PRIMARY":                 idx(true, "id"),
			"code_hash":               idx(true, "code_hash"),
			"groupinvite_group_id_id": idx(false, "group_id", "id"),
		},
		"workout_logs": {
			"PRIMARY":                                 idx(true, "id"),
			"workoutlog_user_id_performed_at_id":      idx(false, "user_id", "performed_at", "id"),
			"workoutlog_challenge_id_performed_at_id": idx(false, "challenge_id", "performed_at", "id"),
		},
		"outbox_events": {
			"PRIMARY":                     idx(true, "id"),
			"event_id":                    idx(true, "event_id"),
			"outboxevent_published_at_id": idx(false, "published_at", "id"),
		},
		"inbox_messages": {
			"PRIMARY":                          idx(true, "id"),
			"inboxmessage_consumer_message_id": idx(true, "consumer", "message_id"),
			"inboxmessage_processed_at":        idx(false, "processed_at"),
		},
	} {
		if got := migcheck.Indexes(t, db, table); !reflect.DeepEqual(got, want) {
			t.Errorf("indexes of %s:\n got %v\nwant %v", table, got, want)
		}
	}
	for _, fk := range []struct{ table, column, rule string }{
		{"workout_logs", "challenge_id", "CASCADE"},
		// Deleting a participation's challenge deletes its place (the
		// service allows that only once it is off the board).
		{"group_participants", "challenge_id", "CASCADE"},
		{"group_participants", "group_id", "CASCADE"},
		{"group_invites", "group_id", "CASCADE"},
		{"challenges", "group_id", "SET NULL"},
	} {
		if rule := migcheck.DeleteRule(t, db, fk.table, fk.column); rule != fk.rule {
			t.Errorf("%s.%s ON DELETE %s, want %s", fk.table, fk.column, rule, fk.rule)
		}
	}

	for table, want := range map[string]map[string]string{
		"challenges": {
			"id": "bigint", "user_id": "bigint", "title": "varchar(120)", "exercise": "varchar(80)",
			"unit":        "enum('kg','lb','reps','seconds','meters')",
			"start_value": "double", "increment": "double", "increment_every": "int",
			"sessions_per_week": "int", "weeks": "int", "start_date": "date",
			"status":        "enum('pending','active','rejected','completed','archived') DEFAULT pending",
			"status_reason": "varchar(255) NULL", "created_at": "datetime(6)", "updated_at": "datetime(6)",
			"progression":  "enum('fixed','linear','double') DEFAULT fixed",
			"deload_after": "int DEFAULT 0", "deload_percent": "int DEFAULT 0",
			"min_reps": "int DEFAULT 0", "max_reps": "int DEFAULT 0",
			"group_id": "bigint NULL",
		},
		"user_profiles": {
			"id": "bigint", "time_zone": "varchar(64)", "display_name": "varchar(100) DEFAULT ", "as_of": "datetime(6)",
		},
		"challenge_groups": {
			"id": "bigint", "owner_id": "bigint", "title": "varchar(120)", "exercise": "varchar(80)",
			"unit":        "enum('kg','lb','reps','seconds','meters')",
			"start_value": "double", "increment": "double", "increment_every": "int",
			"sessions_per_week": "int", "weeks": "int", "start_date": "date",
			"progression":  "enum('fixed','linear','double') DEFAULT fixed",
			"deload_after": "int DEFAULT 0", "deload_percent": "int DEFAULT 0",
			"min_reps": "int DEFAULT 0", "max_reps": "int DEFAULT 0",
			"joining_open": "tinyint DEFAULT 1", "created_at": "datetime(6)", "updated_at": "datetime(6)",
		},
		"group_participants": {
			"id": "bigint", "group_id": "bigint", "user_id": "bigint", "challenge_id": "bigint",
			"status":    "enum('pending','active','rejected','left','removed') DEFAULT pending",
			"joined_at": "datetime(6)", "left_at": "datetime(6) NULL",
		},
		"group_invites": {
			"id": "bigint", "group_id": "bigint", "code_hash": "varchar(64)", "expires_at": "datetime(6) NULL",
			"max_participants": "int NULL", "revoked_at": "datetime(6) NULL", "created_at": "datetime(6)",
		},
		"workout_logs": {
			"id": "bigint", "challenge_id": "bigint", "user_id": "bigint", "performed_at": "datetime(6)",
			"sets": "int", "reps": "int", "value": "double", "note": "varchar(500) NULL",
			"created_at": "datetime(6)",
		},
		"outbox_events": {
			"id": "bigint", "event_id": "varchar(36)", "event_type": "varchar(64)",
			"payload": "longblob", "created_at": "datetime(6)", "published_at": "datetime(6) NULL",
			"attempts": "int DEFAULT 0", "trace_context": "text NULL",
		},
		"inbox_messages": {
			"id": "bigint", "consumer": "varchar(64)", "message_id": "varchar(64)",
			"processed_at": "datetime(6)",
		},
	} {
		if got := migcheck.ColumnTypes(t, db, table); !reflect.DeepEqual(got, want) {
			t.Errorf("columns of %s:\n got %v\nwant %v", table, got, want)
		}
	}
}

func TestClientRoundTrip(t *testing.T) {
	ctx := t.Context()
	db := migrated(t)
	client := challenge.NewClient(challenge.Driver(entsql.OpenDB(dialect.MySQL, db)))

	const userID = 42
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	newChallenge := func(title string) *challenge.Challenge {
		t.Helper()
		c, err := client.Challenge.Create().
			SetUserID(userID).
			SetTitle(title).
			SetExercise("Back squat").
			SetUnit(entchallenge.UnitKg).
			SetStartValue(60).
			SetIncrement(2.5).
			SetIncrementEvery(1).
			SetSessionsPerWeek(3).
			SetWeeks(8).
			SetStartDate(start).
			Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	squat := newChallenge("Squat 60 kg × 5, +2.5 kg a session")
	other := newChallenge("Another")

	got, err := client.Challenge.Get(ctx, squat.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != squat.Title || got.Status != entchallenge.StatusPending || got.StatusReason != "" ||
		got.StartValue != 60 || got.Increment != 2.5 || got.Weeks != 8 {
		t.Fatalf("read back %+v", got)
	}
	if !got.StartDate.Equal(start) || !got.CreatedAt.Equal(squat.CreatedAt) {
		t.Fatalf("start_date %v created_at %v, want %v and %v", got.StartDate, got.CreatedAt, start, squat.CreatedAt)
	}

	// Logs of both challenges, with a performed_at shared by two rows so
	// the id tie-break matters.
	base := time.Date(2026, 3, 2, 18, 30, 0, 123456000, time.UTC)
	performed := []time.Time{base, base.Add(48 * time.Hour), base.Add(48 * time.Hour), base.Add(96 * time.Hour)}
	var ids []int64
	for i, at := range performed {
		c := squat
		if i == 2 {
			c = other
		}
		l, err := client.WorkoutLog.Create().
			SetChallengeID(c.ID).SetUserID(userID).
			SetPerformedAt(at).SetSets(5).SetReps(5).SetValue(60 + 2.5*float64(i)).
			Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, l.ID)
	}

	// The hot read: a user's logs newest first, in pages of two with a
	// keyset cursor on (performed_at, id).
	page := func(after *challenge.WorkoutLog) []int64 {
		q := client.WorkoutLog.Query().Where(workoutlog.UserID(userID))
		if after != nil {
			q = q.Where(workoutlog.Or(
				workoutlog.PerformedAtLT(after.PerformedAt),
				workoutlog.And(workoutlog.PerformedAt(after.PerformedAt), workoutlog.IDLT(after.ID)),
			))
		}
		logs, err := q.Order(workoutlog.ByPerformedAt(entsql.OrderDesc()), workoutlog.ByID(entsql.OrderDesc())).
			Limit(2).All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, l := range logs {
			out = append(out, l.ID)
		}
		return out
	}
	first := page(nil)
	if want := []int64{ids[3], ids[2]}; !slices.Equal(first, want) {
		t.Fatalf("first page = %v, want %v", first, want)
	}
	cursor, err := client.WorkoutLog.Get(ctx, first[1])
	if err != nil {
		t.Fatal(err)
	}
	if !cursor.PerformedAt.Equal(performed[2]) {
		t.Fatalf("performed_at read back %v, want %v (microseconds must survive)", cursor.PerformedAt, performed[2])
	}
	if second, want := page(cursor), []int64{ids[1], ids[0]}; !slices.Equal(second, want) {
		t.Fatalf("second page = %v, want %v", second, want)
	}

	t.Run("status transition keeps a reason", func(t *testing.T) {
		upd, err := got.Update().SetStatus(entchallenge.StatusRejected).SetStatusReason("user suspended").Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n, err := client.Challenge.Query().
			Where(entchallenge.UserID(userID), entchallenge.StatusEQ(entchallenge.StatusRejected)).
			Count(ctx)
		if err != nil || n != 1 || upd.StatusReason != "user suspended" {
			t.Fatalf("rejected challenges = %d (err %v), reason %q", n, err, upd.StatusReason)
		}
	})

	t.Run("a log needs an existing challenge", func(t *testing.T) {
		_, err := client.WorkoutLog.Create().
			SetChallengeID(other.ID + 1000).SetUserID(userID).
			SetPerformedAt(base).SetSets(1).SetReps(1).SetValue(1).
			Save(ctx)
		if !challenge.IsConstraintError(err) {
			t.Fatalf("err = %v, want a foreign-key constraint error", err)
		}
	})

	t.Run("deleting a challenge deletes its logs", func(t *testing.T) {
		if err := client.Challenge.DeleteOne(squat).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		left, err := client.WorkoutLog.Query().IDs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := []int64{ids[2]}; !slices.Equal(left, want) {
			t.Fatalf("logs left = %v, want only the other challenge's %v", left, want)
		}
	})
}

// TestTimeZonesBecomeProfiles applies the migrations before groups, stores
// users' zones, then applies the rest: the rows are the profiles' now,
// zone and as_of kept, the display name empty until an event brings one.
func TestTimeZonesBecomeProfiles(t *testing.T) {
	ctx := t.Context()
	dsn := mysqltest.NewDatabase(t)
	before, rest := migrationsBefore(t, "_groups.")
	if _, err := dbmigrate.Up(ctx, dsn, before); err != nil {
		t.Fatal(err)
	}
	db, err := mysqldb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	asOf := time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC)
	if _, err := db.ExecContext(ctx, "INSERT INTO user_time_zones (id, time_zone, as_of) VALUES (1, 'Europe/Berlin', ?), (2, 'UTC', ?)",
		asOf, time.Unix(0, 0).UTC()); err != nil {
		t.Fatal(err)
	}
	if n, err := dbmigrate.Up(ctx, dsn, migrations.FS); err != nil || n != rest {
		t.Fatalf("Up applied %d, err %v; want %d, nil", n, err, rest)
	}
	client := challenge.NewClient(challenge.Driver(entsql.OpenDB(dialect.MySQL, db)))
	p, err := client.UserProfile.Get(ctx, 1)
	if err != nil || p.TimeZone != "Europe/Berlin" || !p.AsOf.Equal(asOf) || p.DisplayName != "" {
		t.Fatalf("profile 1 after migrating: %+v, %v", p, err)
	}
	if n, err := client.UserProfile.Query().Count(ctx); err != nil || n != 2 {
		t.Fatalf("%d profiles, %v; want 2", n, err)
	}
	if got := migcheck.Tables(t, db); slices.Contains(got, "user_time_zones") {
		t.Fatalf("user_time_zones is still there: %v", got)
	}
}

// migrationsBefore is the database as it was before a migration: every
// migration older than the one whose file name contains marker, and how many
// up migrations (that one and any added after it) Up applies on top.
func migrationsBefore(t *testing.T, marker string) (fstest.MapFS, int) {
	t.Helper()
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	version := ""
	for _, name := range names {
		if strings.Contains(name, marker) {
			version = strings.SplitN(name, "_", 2)[0]
			break
		}
	}
	if version == "" {
		t.Fatalf("no migration named like %q", marker)
	}
	before, rest := fstest.MapFS{}, 0
	for _, name := range names {
		switch {
		case name < version:
			b, err := fs.ReadFile(migrations.FS, name)
			if err != nil {
				t.Fatal(err)
			}
			before[name] = &fstest.MapFile{Data: b}
		case strings.HasSuffix(name, ".up.sql"):
			rest++
		}
	}
	return before, rest
}
