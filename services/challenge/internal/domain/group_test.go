package domain_test

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

var groupNow = time.Date(2026, 1, 7, 9, 30, 0, 0, time.UTC)

func storedGroup(t *testing.T, owner int64) *domain.Group {
	t.Helper()
	g, err := domain.NewGroup(owner, "  Squat club ", squatSpec(), groupNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.AssignID(11); err != nil {
		t.Fatal(err)
	}
	return g
}

func TestNewGroupValidatesLikeAChallenge(t *testing.T) {
	g := storedGroup(t, 7)
	if g.Title() != "Squat club" || !g.JoiningOpen() || g.OwnerID() != 7 || g.Plan().StartDate() != monday {
		t.Fatalf("group %+v", g)
	}
	spec := squatSpec()
	spec.Weeks = 0
	_, err := domain.NewGroup(7, "", spec, groupNow)
	var ve *domain.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want a validation error", err)
	}
	for _, f := range []string{domain.FieldTitle, domain.FieldWeeks} {
		if _, ok := ve.Field(f); !ok {
			t.Errorf("%s not reported in %v", f, err)
		}
	}
	if _, err := domain.NewGroup(0, "T", squatSpec(), groupNow); !errors.Is(err, domain.ErrInvalidUserID) {
		t.Fatalf("owner 0: %v", err)
	}
}

// A participation is the joiner's own challenge on the group's plan, from
// the group's start date, pending, titled as the group.
func TestNewParticipationCopiesThePlan(t *testing.T) {
	g := storedGroup(t, 7)
	later := groupNow.Add(30 * 24 * time.Hour)
	c, err := g.NewParticipation(8, later)
	if err != nil {
		t.Fatal(err)
	}
	if c.UserID() != 8 || c.GroupID() != 11 || c.Status() != domain.StatusPending || c.Title() != "Squat club" {
		t.Fatalf("participation %+v", c)
	}
	if c.Plan() != g.Plan() || c.Plan().StartDate() != monday {
		t.Fatalf("plan %+v, want the group's %+v", c.Plan(), g.Plan())
	}
	unstored, _ := domain.NewGroup(7, "T", squatSpec(), groupNow)
	if _, err := unstored.NewParticipation(8, later); err == nil {
		t.Fatal("a participation of an unstored group")
	}
}

func TestSetJoiningOpen(t *testing.T) {
	g := storedGroup(t, 7)
	if g.SetJoiningOpen(true, groupNow.Add(time.Hour)) {
		t.Fatal("opening an open group changed it")
	}
	if !g.SetJoiningOpen(false, groupNow.Add(time.Hour)) || g.JoiningOpen() || !g.UpdatedAt().Equal(groupNow.Add(time.Hour)) {
		t.Fatalf("closing: %+v", g)
	}
	// A clock behind does not move updatedAt backwards.
	g.SetJoiningOpen(true, groupNow)
	if !g.UpdatedAt().Equal(groupNow.Add(time.Hour)) {
		t.Fatalf("updatedAt moved back to %v", g.UpdatedAt())
	}
}

func newInvite(t *testing.T, spec domain.InviteSpec) domain.Invite {
	t.Helper()
	inv, _, err := domain.NewInvite(11, spec, nil, groupNow)
	if err != nil {
		t.Fatal(err)
	}
	return inv.WithID(3)
}

func TestCheckJoin(t *testing.T) {
	g := storedGroup(t, 7)
	cap3 := 3
	expiry := groupNow.Add(time.Hour)
	open := newInvite(t, domain.InviteSpec{})
	capped := newInvite(t, domain.InviteSpec{MaxParticipants: &cap3})
	expiring := newInvite(t, domain.InviteSpec{ExpiresAt: &expiry})
	revoked := newInvite(t, domain.InviteSpec{})
	revoked.Revoke(groupNow)
	other, _, _ := domain.NewInvite(12, domain.InviteSpec{}, nil, groupNow)
	c, _ := g.NewParticipation(8, groupNow)
	_ = c.AssignID(99)
	existing, err := domain.NewParticipant(g, c, groupNow)
	if err != nil {
		t.Fatal(err)
	}
	closed := storedGroup(t, 7)
	closed.SetJoiningOpen(false, groupNow)

	for _, tc := range []struct {
		name     string
		g        *domain.Group
		inv      *domain.Invite
		existing *domain.Participant
		onBoard  int
		now      time.Time
		want     error
	}{
		{"open", g, &open, nil, 1, groupNow, nil},
		{"below the cap", g, &capped, nil, 2, groupNow, nil},
		{"at the cap", g, &capped, nil, 3, groupNow, domain.ErrGroupFull},
		{"at the group's limit", g, &open, nil, domain.MaxGroupParticipants, groupNow, domain.ErrGroupFull},
		{"before expiry", g, &expiring, nil, 1, expiry.Add(-time.Microsecond), nil},
		{"at expiry", g, &expiring, nil, 1, expiry, domain.ErrInviteNotUsable},
		{"revoked", g, &revoked, nil, 1, groupNow, domain.ErrInviteNotUsable},
		{"another group's invite", g, &other, nil, 1, groupNow, domain.ErrInviteNotUsable},
		{"no invite", g, nil, nil, 1, groupNow, domain.ErrInviteNotUsable},
		{"joining closed", closed, &open, nil, 1, groupNow, domain.ErrJoiningClosed},
		{"revoked and closed: the code says nothing", closed, &revoked, nil, 1, groupNow, domain.ErrInviteNotUsable},
		{"already in", g, &open, &existing, 1, groupNow, domain.ErrAlreadyParticipant},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.g.CheckJoin(tc.inv, tc.existing, tc.onBoard, tc.now)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("CheckJoin = %v, want %v", err, tc.want)
			}
			if err != nil && tc.want != domain.ErrInviteNotUsable && !errors.Is(err, domain.ErrGroupConflict) {
				t.Fatalf("%v is not a group conflict", err)
			}
		})
	}
}

func TestParticipantTransitions(t *testing.T) {
	g := storedGroup(t, 7)
	ownerC, _ := g.NewParticipation(7, groupNow)
	_ = ownerC.AssignID(98)
	joinerC, _ := g.NewParticipation(8, groupNow)
	_ = joinerC.AssignID(99)
	later := groupNow.Add(time.Hour)

	type step func(p *domain.Participant) error
	activate := func(p *domain.Participant) error { return p.Activate() }
	reject := func(p *domain.Participant) error { return p.Reject(later) }
	leave := func(p *domain.Participant) error { return p.Leave(g, false, later) }
	leaveGone := func(p *domain.Participant) error { return p.Leave(g, true, later) }
	remove := func(p *domain.Participant) error { return p.Remove(g, later) }

	for _, tc := range []struct {
		name  string
		owner bool
		steps []step
		want  domain.ParticipantStatus
		err   error
	}{
		{"validated", false, []step{activate}, domain.ParticipantActive, nil},
		{"rejected", false, []step{reject}, domain.ParticipantRejected, nil},
		{"pending leaves", false, []step{leave}, domain.ParticipantLeft, nil},
		{"active leaves", false, []step{activate, leave}, domain.ParticipantLeft, nil},
		{"active removed", false, []step{activate, remove}, domain.ParticipantRemoved, nil},
		{"owner cannot leave", true, []step{activate, leave}, domain.ParticipantActive, domain.ErrOwnerCannotLeave},
		{"owner cannot be removed", true, []step{remove}, domain.ParticipantPending, domain.ErrOwnerCannotLeave},
		{"a deleted owner leaves", true, []step{activate, leaveGone}, domain.ParticipantLeft, nil},
		{"left cannot leave again", false, []step{leave, leave}, domain.ParticipantLeft, domain.ErrNotParticipant},
		{"removed cannot be reactivated", false, []step{remove, activate}, domain.ParticipantRemoved, domain.ErrNotParticipant},
		{"active cannot be rejected", false, []step{activate, reject}, domain.ParticipantActive, domain.ErrGroupConflict},
		{"active cannot be activated", false, []step{activate, activate}, domain.ParticipantActive, domain.ErrGroupConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := joinerC
			if tc.owner {
				c = ownerC
			}
			p, err := domain.NewParticipant(g, c, groupNow)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.steps {
				err = s(&p)
			}
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("last step: %v, want %v", err, tc.err)
			}
			if p.Status() != tc.want {
				t.Fatalf("status %s, want %s", p.Status(), tc.want)
			}
			if p.Status().OnBoard() != p.LeftAt().IsZero() {
				t.Fatalf("status %s with leftAt %v", p.Status(), p.LeftAt())
			}
		})
	}
}

func TestParticipantStatuses(t *testing.T) {
	for _, s := range domain.ParticipantStatuses() {
		if !s.Valid() {
			t.Errorf("%s not valid", s)
		}
		on := s == domain.ParticipantPending || s == domain.ParticipantActive
		if s.OnBoard() != on {
			t.Errorf("%s on board: %v", s, s.OnBoard())
		}
	}
	if domain.ParticipantStatus("deleted").Valid() {
		t.Error("unknown status valid")
	}
	if _, err := domain.UnmarshalParticipantFromDatabase(1, 2, 3, "deleted", groupNow, nil); err == nil {
		t.Error("stored participant with an unknown status accepted")
	}
}

func TestNewInvite(t *testing.T) {
	future, tooFar, past := groupNow.Add(24*time.Hour), groupNow.Add(367*24*time.Hour), groupNow.Add(-time.Second)
	one, two, many := 1, 2, domain.MaxGroupParticipants+1
	for _, tc := range []struct {
		name   string
		spec   domain.InviteSpec
		fields []string
	}{
		{"neither", domain.InviteSpec{}, nil},
		{"both", domain.InviteSpec{ExpiresAt: &future, MaxParticipants: &two}, nil},
		{"expired already", domain.InviteSpec{ExpiresAt: &past}, []string{domain.FieldExpiresAt}},
		{"expiring now", domain.InviteSpec{ExpiresAt: &groupNow}, []string{domain.FieldExpiresAt}},
		{"too far", domain.InviteSpec{ExpiresAt: &tooFar}, []string{domain.FieldExpiresAt}},
		{"cap of one", domain.InviteSpec{MaxParticipants: &one}, []string{domain.FieldMaxParticipants}},
		{"both wrong", domain.InviteSpec{ExpiresAt: &past, MaxParticipants: &many}, []string{domain.FieldExpiresAt, domain.FieldMaxParticipants}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv, code, err := domain.NewInvite(11, tc.spec, nil, groupNow)
			if len(tc.fields) > 0 {
				var ve *domain.ValidationError
				if !errors.As(err, &ve) || len(ve.Fields) != len(tc.fields) {
					t.Fatalf("err = %v, want fields %v", err, tc.fields)
				}
				for i, f := range tc.fields {
					if ve.Fields[i].Field != f {
						t.Errorf("field %d = %s, want %s", i, ve.Fields[i].Field, f)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if inv.CodeHash() != sha256.Sum256(mustDecode(t, code.String())) {
				t.Fatal("the stored hash is not the code's SHA-256")
			}
			if !inv.Usable(groupNow) {
				t.Fatal("a new invite is not usable")
			}
		})
	}
}

// mustDecode parses s as a code, checks it round-trips and returns its bytes.
func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	c, err := domain.ParseInviteCode(s)
	if err != nil {
		t.Fatalf("ParseInviteCode(%q): %v", s, err)
	}
	if c.String() != s {
		t.Fatalf("round trip %q → %q", s, c.String())
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) != 32 {
		t.Fatalf("%q decodes to %d bytes, %v", s, len(raw), err)
	}
	return raw
}

func TestInviteCodesAreRandomAndRevocable(t *testing.T) {
	a, _ := domain.NewInviteCode(nil)
	b, _ := domain.NewInviteCode(nil)
	if a == b || len(a.String()) != domain.InviteCodeLen {
		t.Fatalf("codes %q and %q", a, b)
	}
	if _, err := domain.NewInviteCode(strings.NewReader("short")); err == nil {
		t.Fatal("a code from 5 random bytes")
	}
	inv := newInvite(t, domain.InviteSpec{})
	if !inv.Revoke(groupNow) || inv.Usable(groupNow) || inv.Revoke(groupNow.Add(time.Hour)) || !inv.RevokedAt().Equal(groupNow) {
		t.Fatalf("revoke: %+v", inv)
	}
}

func TestParseInviteCode(t *testing.T) {
	good, _ := domain.NewInviteCode(nil)
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{good.String(), true},
		{strings.Repeat("A", 43), true},
		{"", false},
		{strings.Repeat("A", 42), false},
		{strings.Repeat("A", 44), false},
		{strings.Repeat("A", 42) + "=", false},
		{strings.Repeat("A", 42) + "+", false},
		{strings.Repeat("A", 42) + "B", false}, // not canonical: the last character's low bits must be 0
		{strings.Repeat("A", 21) + "\n" + strings.Repeat("A", 21), false},
	} {
		_, err := domain.ParseInviteCode(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseInviteCode(%q) = %v, want ok %v", tc.in, err, tc.ok)
		}
		var ve *domain.ValidationError
		if err != nil && (!errors.As(err, &ve) || ve.Fields[0].Field != domain.FieldCode) {
			t.Errorf("ParseInviteCode(%q): %v is not a 422 on code", tc.in, err)
		}
	}
}
