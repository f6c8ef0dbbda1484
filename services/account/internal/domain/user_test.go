package domain_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // zone validation must not depend on the host

	"github.com/progressive-overload/po/services/account/internal/domain"
)

func newUser(t *testing.T) domain.User {
	t.Helper()
	name, err := domain.NewDisplayName("Ada")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := domain.NewUser(domain.MustEmail("ada@example.com"), name, "$argon2id$hash", domain.RoleUser); err != nil {
		t.Fatal(err)
	}
	return stored(t, domain.RoleUser)
}

// stored is the account newUser makes as storage returns it (id 7).
func stored(t *testing.T, role domain.Role) domain.User {
	t.Helper()
	u, err := domain.UnmarshalUserFromDatabase(7, "ada@example.com", "$argon2id$hash", "Ada", role, domain.StatusActive, "UTC", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestNewUser(t *testing.T) {
	u := newUser(t)
	if !u.Active() || u.IsAdmin() || u.Email() != "ada@example.com" || u.DisplayName() != "Ada" {
		t.Fatalf("%+v", u)
	}
	if !u.CanAccess(7) || u.CanAccess(8) {
		t.Fatal("a user may access only their own account")
	}
	u = stored(t, domain.RoleAdmin)
	if !u.CanAccess(8) {
		t.Fatal("an admin may access every account")
	}
	if _, err := domain.NewUser(domain.Email{}, domain.DisplayName{}, "", domain.RoleUser); err == nil {
		t.Fatal("incomplete user accepted")
	}
}

func TestDelete(t *testing.T) {
	u := newUser(t)
	evts, err := u.Delete()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(evts, []domain.Event{domain.UserDeleted{UserID: 7}}) || evts[0].EventType() != "user.deleted" {
		t.Fatalf("events %#v", evts)
	}
	if u.Status() != domain.StatusDeleted || u.Email() != "deleted-7@deleted.invalid" ||
		u.PasswordHash() != domain.DeletedPasswordHash || u.DisplayName() != domain.DeletedDisplayName {
		t.Fatalf("personal data left: %+v", u)
	}
	if _, err := domain.NewEmail(u.Email()); err != nil {
		t.Fatalf("placeholder email %q is not an email: %v", u.Email(), err)
	}
	if _, err := u.Delete(); !errors.Is(err, domain.ErrUserDeleted) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := u.SetStatus(domain.StatusActive); !errors.Is(err, domain.ErrUserDeleted) {
		t.Fatalf("reactivating a deleted account: %v", err)
	}
	if _, err := u.Rename(domain.DisplayName{}); !errors.Is(err, domain.ErrUserDeleted) {
		t.Fatalf("renaming a deleted account: %v", err)
	}
}

func TestSetStatus(t *testing.T) {
	u := newUser(t)
	evts, err := u.SetStatus(domain.StatusSuspended)
	if err != nil || !reflect.DeepEqual(evts, []domain.Event{domain.UserSuspended{UserID: 7}}) || u.Active() {
		t.Fatalf("suspend: %v %#v %+v", err, evts, u)
	}
	if evts[0].EventType() != "user.suspended" {
		t.Fatal(evts[0].EventType())
	}
	if evts, err := u.SetStatus(domain.StatusSuspended); err != nil || len(evts) != 0 {
		t.Fatalf("suspending again: %v %v", evts, err)
	}
	if evts, err := u.SetStatus(domain.StatusActive); err != nil || len(evts) != 0 || !u.Active() {
		t.Fatalf("reactivate: %v %v", evts, err)
	}
	var ve *domain.ValidationError
	if _, err := u.SetStatus(domain.StatusDeleted); !errors.As(err, &ve) || ve.Fields[0].Field != "status" {
		t.Fatalf("status deleted through SetStatus: %v", err)
	}
}

func TestValidator(t *testing.T) {
	var v domain.Validator
	if v.Err() != nil {
		t.Fatal("empty validator failed")
	}
	v.Check("a", nil)
	v.Check("b", errors.New("is bad"))
	v.Check("c", domain.Invalid("other", "is worse"))
	v.Add("d", "is missing")
	var ve *domain.ValidationError
	if !errors.As(v.Err(), &ve) {
		t.Fatal(v.Err())
	}
	want := []domain.FieldError{{"b", "is bad"}, {"c", "is worse"}, {"d", "is missing"}}
	if !reflect.DeepEqual(ve.Fields, want) {
		t.Fatalf("%+v", ve.Fields)
	}
}

func TestUnmarshalUserFromDatabaseRefusesWhatNoConstructorMakes(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	u, err := domain.UnmarshalUserFromDatabase(3, "a@b.c", "h", "A", domain.RoleAdmin, domain.StatusSuspended, "UTC", at, at.Add(time.Second))
	if err != nil || u.ID() != 3 || u.Email() != "a@b.c" || u.PasswordHash() != "h" || u.DisplayName() != "A" ||
		u.Role() != domain.RoleAdmin || u.Status() != domain.StatusSuspended || !u.CreatedAt().Equal(at) || !u.UpdatedAt().Equal(at.Add(time.Second)) {
		t.Fatalf("%+v, %v", u, err)
	}
	for name, f := range map[string]func() (domain.User, error){
		"id 0": func() (domain.User, error) {
			return domain.UnmarshalUserFromDatabase(0, "a@b.c", "h", "A", domain.RoleUser, domain.StatusActive, "UTC", at, at)
		},
		"no email": func() (domain.User, error) {
			return domain.UnmarshalUserFromDatabase(1, "", "h", "A", domain.RoleUser, domain.StatusActive, "UTC", at, at)
		},
		"bad role": func() (domain.User, error) {
			return domain.UnmarshalUserFromDatabase(1, "a@b.c", "h", "A", "root", domain.StatusActive, "UTC", at, at)
		},
		"bad status": func() (domain.User, error) {
			return domain.UnmarshalUserFromDatabase(1, "a@b.c", "h", "A", domain.RoleUser, "gone", "UTC", at, at)
		},
		"no time zone": func() (domain.User, error) {
			return domain.UnmarshalUserFromDatabase(1, "a@b.c", "h", "A", domain.RoleUser, domain.StatusActive, "", at, at)
		},
	} {
		if _, err := f(); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func TestNewTimeZone(t *testing.T) {
	for _, ok := range []string{"UTC", "Europe/Berlin", "America/Los_Angeles", "Pacific/Auckland", "Asia/Kolkata", "Etc/GMT+8"} {
		if z, err := domain.NewTimeZone(ok); err != nil || z.String() != ok {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Local", "europe/berlin", "Mars/Olympus_Mons", "../../etc/passwd", "Europe/Berlin ", "+01:00",
		strings.Repeat("A", 65)} {
		if _, err := domain.NewTimeZone(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSetTimeZone(t *testing.T) {
	u := stored(t, domain.RoleUser)
	if u.TimeZone() != "UTC" {
		t.Fatalf("stored zone %q", u.TimeZone())
	}
	evts, err := u.SetTimeZone(domain.MustTimeZone("Europe/Berlin"))
	if err != nil || len(evts) != 1 || evts[0] != (domain.UserUpdated{UserID: 7, TimeZone: "Europe/Berlin", DisplayName: u.DisplayName()}) || u.TimeZone() != "Europe/Berlin" {
		t.Fatalf("set: %v %v %q", evts, err, u.TimeZone())
	}
	if evts, err := u.SetTimeZone(domain.MustTimeZone("Europe/Berlin")); err != nil || evts != nil {
		t.Fatalf("same zone again: %v %v", evts, err)
	}
	name, err := domain.NewDisplayName("B")
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := domain.NewUser(domain.MustEmail("b@example.com"), name, "h", domain.RoleUser)
	if err != nil || fresh.TimeZone() != "UTC" {
		t.Fatalf("new user zone %q, %v", fresh.TimeZone(), err)
	}
	if evts, err := fresh.SetTimeZone(domain.MustTimeZone("Asia/Tokyo")); err != nil || evts != nil || fresh.TimeZone() != "Asia/Tokyo" {
		t.Fatalf("unsaved user: %v %v", evts, err)
	}
	if _, err := u.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := u.SetTimeZone(domain.MustTimeZone("UTC")); !errors.Is(err, domain.ErrUserDeleted) {
		t.Fatalf("deleted user: %v", err)
	}
}

// A stored account announces a new display name with the whole profile; the
// same name again, or an unsaved account, announces nothing.
func TestRenameAnnounces(t *testing.T) {
	u := stored(t, domain.RoleUser)
	ada, err := domain.NewDisplayName("Ada L.")
	if err != nil {
		t.Fatal(err)
	}
	evts, err := u.Rename(ada)
	if err != nil || len(evts) != 1 || evts[0] != (domain.UserUpdated{UserID: 7, TimeZone: u.TimeZone(), DisplayName: "Ada L."}) || u.DisplayName() != "Ada L." {
		t.Fatalf("rename: %v %v %q", evts, err, u.DisplayName())
	}
	if evts, err := u.Rename(ada); err != nil || evts != nil {
		t.Fatalf("same name again: %v %v", evts, err)
	}
	fresh, err := domain.NewUser(domain.MustEmail("b@example.com"), ada, "h", domain.RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := domain.NewDisplayName("B")
	if evts, err := fresh.Rename(b); err != nil || evts != nil || fresh.DisplayName() != "B" {
		t.Fatalf("unsaved user: %v %v", evts, err)
	}
}
