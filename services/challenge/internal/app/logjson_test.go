package app

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/kit/paging"
)

// checkLogPageJSON fails t unless p's AppendJSON and encodeLogPage agree
// with json.Marshal: the same bytes, or both an error.
func checkLogPageJSON(t *testing.T, p LogPage) {
	t.Helper()
	want, wantErr := json.Marshal(p)
	got, gotErr := encodeLogPage(p)
	switch {
	case wantErr != nil && gotErr == nil:
		t.Fatalf("json.Marshal failed (%v), encodeLogPage did not: %s", wantErr, got)
	case wantErr == nil && gotErr != nil:
		t.Fatalf("encodeLogPage failed (%v), json.Marshal did not: %s", gotErr, want)
	case wantErr == nil && !bytes.Equal(got, want):
		t.Fatalf("encodeLogPage differs from json.Marshal\n got %s\nwant %s", got, want)
	}
	if wantErr != nil {
		return
	}
	// Appending after existing bytes keeps them.
	prefix := []byte("prefix")
	got, err := p.AppendJSON(prefix[:len(prefix):len(prefix)])
	if err != nil || !bytes.Equal(got, append(prefix, want...)) {
		t.Fatalf("AppendJSON after a prefix: %s, %v", got, err)
	}
}

func TestLogPageJSON(t *testing.T) {
	utc := time.Date(2026, 1, 5, 7, 30, 0, 0, time.UTC)
	base := LogView{ID: 1, ChallengeID: 2, UserID: 3, PerformedAt: utc, Sets: 5, Reps: 10, Value: 102.5, Note: "felt strong", CreatedAt: utc.Add(time.Minute)}
	withValue := func(f float64) LogView { v := base; v.Value = f; return v }
	withNote := func(s string) LogView { v := base; v.Note = s; return v }
	withTime := func(tm time.Time) LogView { v := base; v.PerformedAt = tm; v.CreatedAt = tm; return v }
	cursor := EncodeLogCursor(LogCursor{PerformedAt: utc, ID: 1})
	odd := `a"b\c/d<e>f&g'h`

	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		ny = time.FixedZone("EST", -5*3600) // no tzdata here; keep the case
	}

	tests := []struct {
		name    string
		page    LogPage
		wantErr bool
	}{
		{name: "nil items, nil cursor", page: LogPage{}},
		{name: "empty items", page: LogPage{Items: []LogView{}}},
		{name: "cursor", page: LogPage{Items: []LogView{base}, NextCursor: &cursor}},
		{name: "empty cursor", page: LogPage{Items: []LogView{}, NextCursor: new(string)}},
		{name: "cursor needing escapes", page: LogPage{Items: []LogView{}, NextCursor: &odd}},
		{name: "zero view", page: LogPage{Items: []LogView{{}}}},
		{name: "three views", page: LogPage{Items: []LogView{base, withNote(""), base}}},
		{name: "extreme ints", page: LogPage{Items: []LogView{{ID: math.MaxInt64, ChallengeID: math.MinInt64, UserID: -1, Sets: math.MaxInt, Reps: math.MinInt}}}},

		{name: "float 0", page: LogPage{Items: []LogView{withValue(0)}}},
		{name: "float -0", page: LogPage{Items: []LogView{withValue(math.Copysign(0, -1))}}},
		{name: "float 1e-7", page: LogPage{Items: []LogView{withValue(1e-7)}}},
		{name: "float -1e-7", page: LogPage{Items: []LogView{withValue(-1e-7)}}},
		{name: "float 1e-6", page: LogPage{Items: []LogView{withValue(1e-6)}}},
		{name: "float below 1e-6", page: LogPage{Items: []LogView{withValue(math.Nextafter(1e-6, 0))}}},
		{name: "float 1e-10", page: LogPage{Items: []LogView{withValue(1e-10)}}},
		{name: "float 1e-100", page: LogPage{Items: []LogView{withValue(1e-100)}}},
		{name: "float 1e20", page: LogPage{Items: []LogView{withValue(1e20)}}},
		{name: "float below 1e21", page: LogPage{Items: []LogView{withValue(math.Nextafter(1e21, 0))}}},
		{name: "float 1e21", page: LogPage{Items: []LogView{withValue(1e21)}}},
		{name: "float -1e21", page: LogPage{Items: []LogView{withValue(-1e21)}}},
		{name: "float 123.456", page: LogPage{Items: []LogView{withValue(123.456)}}},
		{name: "float 1/3", page: LogPage{Items: []LogView{withValue(1.0 / 3)}}},
		{name: "float 0.1+0.2", page: LogPage{Items: []LogView{withValue(0.1 + 0.2)}}},
		{name: "float max", page: LogPage{Items: []LogView{withValue(math.MaxFloat64)}}},
		{name: "float -max", page: LogPage{Items: []LogView{withValue(-math.MaxFloat64)}}},
		{name: "float smallest denormal", page: LogPage{Items: []LogView{withValue(math.SmallestNonzeroFloat64)}}},
		{name: "float smallest normal", page: LogPage{Items: []LogView{withValue(0x1p-1022)}}},
		{name: "float 2^53+1", page: LogPage{Items: []LogView{withValue(1<<53 + 1)}}},
		{name: "float NaN", page: LogPage{Items: []LogView{withValue(math.NaN())}}, wantErr: true},
		{name: "float +Inf", page: LogPage{Items: []LogView{withValue(math.Inf(1))}}, wantErr: true},
		{name: "float -Inf", page: LogPage{Items: []LogView{base, withValue(math.Inf(-1))}}, wantErr: true},

		{name: "time nanoseconds", page: LogPage{Items: []LogView{withTime(utc.Add(123456789))}}},
		{name: "time trailing zero nanos", page: LogPage{Items: []LogView{withTime(utc.Add(120 * time.Millisecond))}}},
		{name: "time one nanosecond", page: LogPage{Items: []LogView{withTime(utc.Add(1))}}},
		{name: "time zero", page: LogPage{Items: []LogView{withTime(time.Time{})}}},
		{name: "time year 0", page: LogPage{Items: []LogView{withTime(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC))}}},
		{name: "time year 9999", page: LogPage{Items: []LogView{withTime(time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC))}}},
		{name: "time year 10000", page: LogPage{Items: []LogView{withTime(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))}}, wantErr: true},
		{name: "time year -1", page: LogPage{Items: []LogView{withTime(time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC))}}, wantErr: true},
		{name: "time only createdAt bad", page: LogPage{Items: []LogView{func() LogView { v := base; v.CreatedAt = time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC); return v }()}}, wantErr: true},
		{name: "time +05:30", page: LogPage{Items: []LogView{withTime(utc.In(time.FixedZone("IST", 5*3600+30*60)))}}},
		{name: "time -09:30", page: LogPage{Items: []LogView{withTime(utc.Add(7).In(time.FixedZone("", -(9*3600 + 30*60))))}}},
		{name: "time offset with seconds", page: LogPage{Items: []LogView{withTime(utc.In(time.FixedZone("", 3600+61)))}}},
		{name: "time offset +23:59", page: LogPage{Items: []LogView{withTime(utc.In(time.FixedZone("", 23*3600+59*60)))}}},
		{name: "time offset +24:00", page: LogPage{Items: []LogView{withTime(utc.In(time.FixedZone("", 24*3600)))}}, wantErr: true},
		{name: "time offset -100:00", page: LogPage{Items: []LogView{withTime(utc.In(time.FixedZone("", -100*3600)))}}, wantErr: true},
		{name: "time New York", page: LogPage{Items: []LogView{withTime(utc.In(ny))}}},
		{name: "time New York LMT", page: LogPage{Items: []LogView{withTime(time.Date(1850, 6, 1, 12, 0, 0, 5, ny))}}},
		{name: "time monotonic", page: LogPage{Items: []LogView{withTime(time.Now())}}},
		{name: "time Local", page: LogPage{Items: []LogView{withTime(utc.Local())}}},

		{name: "note HTML", page: LogPage{Items: []LogView{withNote(`<script>alert("x&y")</script>`)}}},
		{name: "note quotes and backslashes", page: LogPage{Items: []LogView{withNote(`"\"\\/'`)}}},
		{name: "note short escapes", page: LogPage{Items: []LogView{withNote("a\nb\rc\td\be\ff")}}},
		{name: "note control characters", page: LogPage{Items: []LogView{withNote("\x00\x01\x1f\x7f end")}}},
		{name: "note all ASCII", page: LogPage{Items: []LogView{withNote(func() string {
			var b strings.Builder
			for c := 0; c < 128; c++ {
				b.WriteByte(byte(c))
			}
			return b.String()
		}())}}},
		{name: "note invalid UTF-8", page: LogPage{Items: []LogView{withNote("a\xffb\xc3\x28c\xe2\x82d\xf0\x9f\x98")}}},
		{name: "note surrogate half", page: LogPage{Items: []LogView{withNote("\xed\xa0\x80")}}},
		{name: "note U+2028 U+2029", page: LogPage{Items: []LogView{withNote("line\u2028para\u2029end\u2027\u202a")}}},
		{name: "note U+FFFD itself", page: LogPage{Items: []LogView{withNote("\ufffd")}}},
		{name: "note emoji", page: LogPage{Items: []LogView{withNote("PR 💪🏽 größer 重量")}}},
		{name: "note single space", page: LogPage{Items: []LogView{withNote(" ")}}},
		{name: "note long", page: LogPage{Items: []LogView{withNote(strings.Repeat("ab<", 1000))}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLogPageJSON(t, tt.page)
			if _, err := encodeLogPage(tt.page); (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

func FuzzLogPageJSON(f *testing.F) {
	type seed struct {
		flags                  uint8
		id, challengeID, user  int64
		sets, reps             int
		valueBits              uint64
		performedSec, perfNsec int64
		createdNanos           int64
		offset                 int32
		note, cursor           string
	}
	seeds := []seed{
		{flags: 1, id: 1, challengeID: 2, user: 3, sets: 5, reps: 10, valueBits: math.Float64bits(102.5), performedSec: 1767598200, createdNanos: 1767598260123456789, note: "felt strong", cursor: "abc"},
		{flags: 0},
		{flags: 2 | 4 | 8, valueBits: math.Float64bits(1e-7), performedSec: 253402300799, perfNsec: 999999999, createdNanos: -1, offset: 19800, note: "<&>\u2028\xff\n"},
		{flags: 3, valueBits: math.Float64bits(1e21), performedSec: 253402300800, note: "\x00\"\\"},
		{flags: 1, valueBits: math.Float64bits(math.NaN()), note: "nan"},
		{flags: 1, valueBits: math.Float64bits(math.Inf(-1))},
		{flags: 1, valueBits: 1, offset: 86400},
		{flags: 1, valueBits: math.Float64bits(math.MaxFloat64), offset: -86399},
		{flags: 1, valueBits: 1 << 63, performedSec: -62135596800, createdNanos: math.MinInt64},
		{flags: 1, valueBits: math.Float64bits(1.0 / 3), performedSec: -62135596801, cursor: "💪"},
	}
	for _, s := range seeds {
		f.Add(s.flags, s.id, s.challengeID, s.user, s.sets, s.reps, s.valueBits, s.performedSec, s.perfNsec, s.createdNanos, s.offset, s.note, s.cursor)
	}
	f.Fuzz(func(t *testing.T, flags uint8, id, challengeID, user int64, sets, reps int, valueBits uint64, performedSec, perfNsec, createdNanos int64, offset int32, note, cursor string) {
		// flags: bits 0-1 item count (0-3), bit 2 nil items when empty,
		// bit 3 cursor set, bit 4 times in the fixed zone of offset seconds.
		loc := time.UTC
		if flags&16 != 0 {
			loc = time.FixedZone("", int(offset))
		}
		v := LogView{
			ID: id, ChallengeID: challengeID, UserID: user,
			PerformedAt: time.Unix(performedSec, perfNsec).In(loc),
			Sets:        sets, Reps: reps,
			Value:     math.Float64frombits(valueBits),
			Note:      note,
			CreatedAt: time.Unix(0, createdNanos).In(loc),
		}
		var p LogPage
		n := int(flags & 3)
		if n > 0 || flags&4 == 0 {
			p.Items = make([]LogView, 0, n)
		}
		for i := range n {
			w := v
			switch i {
			case 1: // vary the fields between items
				w.Note, w.ID, w.Value = cursor, ^id, -w.Value
			case 2:
				w.Note, w.PerformedAt = "", w.CreatedAt
			}
			p.Items = append(p.Items, w)
		}
		if flags&8 != 0 {
			p.NextCursor = &cursor
		}
		checkLogPageJSON(t, p)
	})
}

// realisticLogPage is a full default-size page as the database returns it:
// UTC timestamps with microseconds, a note on some logs.
func realisticLogPage() LogPage {
	t0 := time.Date(2026, 3, 14, 18, 5, 11, 482113000, time.UTC)
	notes := []string{"", "felt strong", "", "left knee a bit sore, kept RPE < 8", ""}
	rows := make([]LogView, paging.DefaultLimit+1)
	for i := range rows {
		at := t0.Add(-time.Duration(i) * 49 * time.Hour)
		rows[i] = LogView{
			ID:          int64(90210 - i),
			ChallengeID: int64(1200 + i%3),
			UserID:      48213,
			PerformedAt: at,
			Sets:        3 + i%3,
			Reps:        5 + i%6,
			Value:       60 + 2.5*float64(i%9),
			Note:        notes[i%len(notes)],
			CreatedAt:   at.Add(37*time.Minute + 813*time.Microsecond),
		}
	}
	return logPage(rows, paging.DefaultLimit)
}

func BenchmarkLogPageJSON(b *testing.B) {
	p := realisticLogPage()
	want, err := json.Marshal(p)
	if err != nil {
		b.Fatal(err)
	}
	if got, err := encodeLogPage(p); err != nil || !bytes.Equal(got, want) {
		b.Fatalf("encodeLogPage differs from json.Marshal: %v\n got %s\nwant %s", err, got, want)
	}
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(want)))
		for b.Loop() {
			if _, err := encode(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(want)))
		for b.Loop() {
			if _, err := encodeLogPage(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// A field added to LogView or LogPage without a line in the encoder would be
// silently missing from the API: fill every field through reflection (so new
// ones are covered without editing this test) and compare.
func TestLogPageJSONCoversEveryField(t *testing.T) {
	var v LogView
	rv := reflect.ValueOf(&v).Elem()
	for i := range rv.NumField() {
		f := rv.Field(i)
		switch f.Kind() {
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(100 + i))
		case reflect.Float64:
			f.SetFloat(1.5 + float64(i))
		case reflect.String:
			f.SetString("field " + rv.Type().Field(i).Name)
		default:
			if f.Type() != reflect.TypeFor[time.Time]() {
				t.Fatalf("LogView.%s: %s is not handled by this test; extend it and the encoder", rv.Type().Field(i).Name, f.Type())
			}
			f.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 6000*(i+1), time.UTC)))
		}
	}
	if n := reflect.TypeFor[LogPage]().NumField(); n != 2 {
		t.Fatalf("LogPage has %d fields, the encoder writes 2", n)
	}
	cursor := "c"
	p := LogPage{Items: []LogView{v}, NextCursor: &cursor}
	want, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := encodeLogPage(p)
	if err != nil || string(got) != string(want) {
		t.Fatalf("encodeLogPage = %s, %v\njson.Marshal  = %s", got, err, want)
	}
}
