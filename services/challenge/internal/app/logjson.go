package app

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"unicode/utf8"
)

// A CPU profile of the uncached GET /challenges/logs/{userId} showed
// json.Marshal of the LogPage at ~13% of the service's CPU, most of it
// reflection and time.Time.MarshalJSON (which allocates per call). Pages are
// the one hot encode, so LogPage gets a hand-written appending encoder.
//
// Its output must stay byte-identical to json.Marshal(p), so the API's bodies
// do not change with it; TestLogPageJSON and FuzzLogPageJSON pin that, and
// any change to LogPage or LogView must be mirrored here.

// Sizes for pre-sizing the buffer. A LogView without a note is ~165 bytes
// with UTC microsecond timestamps and small ids, up to ~250 with 19-digit ids
// and zoned nanosecond timestamps; 192 makes a typical page fit without a
// regrowth (which would copy the whole page) for ~15% slack. A note costs its
// length plus its key, more if it needs escapes.
const (
	logPageJSONOverhead = len(`{"items":[],"nextCursor":null}`)
	logViewJSONSize     = 192
	logNoteJSONOverhead = len(`,"note":""`)
)

// AppendJSON appends the JSON of p to dst exactly as json.Marshal(p) would
// produce it, and fails where json.Marshal fails (a NaN or infinite value, a
// timestamp that is not valid RFC 3339). On error the returned slice is
// unusable (it may be nil).
func (p LogPage) AppendJSON(dst []byte) ([]byte, error) {
	var err error
	dst = append(dst, `{"items":`...)
	if p.Items == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range p.Items {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = p.Items[i].appendJSON(dst); err != nil {
				return dst, err
			}
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"nextCursor":`...)
	if p.NextCursor == nil {
		dst = append(dst, "null"...)
	} else {
		dst = appendJSONString(dst, *p.NextCursor)
	}
	return append(dst, '}'), nil
}

// encodeLogPage is encode(p) for the hot reads, with the buffer pre-sized.
func encodeLogPage(p LogPage) ([]byte, error) {
	n := logPageJSONOverhead + len(p.Items)*logViewJSONSize
	if p.NextCursor != nil {
		n += len(*p.NextCursor)
	}
	for i := range p.Items {
		if note := p.Items[i].Note; note != "" {
			n += logNoteJSONOverhead + len(note)
		}
	}
	b, err := p.AppendJSON(make([]byte, 0, n))
	if err != nil {
		return nil, err
	}
	return b, nil
}

func (v *LogView) appendJSON(dst []byte) ([]byte, error) {
	var err error
	dst = append(dst, `{"id":`...)
	dst = strconv.AppendInt(dst, v.ID, 10)
	dst = append(dst, `,"challengeId":`...)
	dst = strconv.AppendInt(dst, v.ChallengeID, 10)
	dst = append(dst, `,"userId":`...)
	dst = strconv.AppendInt(dst, v.UserID, 10)
	dst = append(dst, `,"performedAt":"`...)
	// AppendText is the strict RFC 3339 (RFC3339Nano layout) formatting
	// MarshalJSON uses, with the same errors (year outside [0,9999], zone
	// offset of 24h or more), without MarshalJSON's allocation.
	if dst, err = v.PerformedAt.AppendText(dst); err != nil {
		return dst, err
	}
	dst = append(dst, `","sets":`...)
	dst = strconv.AppendInt(dst, int64(v.Sets), 10)
	dst = append(dst, `,"reps":`...)
	dst = strconv.AppendInt(dst, int64(v.Reps), 10)
	dst = append(dst, `,"value":`...)
	if dst, err = appendJSONFloat(dst, v.Value); err != nil {
		return dst, err
	}
	if v.Note != "" {
		dst = append(dst, `,"note":`...)
		dst = appendJSONString(dst, v.Note)
	}
	dst = append(dst, `,"createdAt":"`...)
	if dst, err = v.CreatedAt.AppendText(dst); err != nil {
		return dst, err
	}
	return append(dst, `"}`...), nil
}

// appendJSONFloat mirrors encoding/json's floatEncoder for float64.
func appendJSONFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, &json.UnsupportedValueError{Value: reflect.ValueOf(f), Str: strconv.FormatFloat(f, 'g', -1, 64)}
	}
	// Like ES6 number-to-string: 'f' except for very small or large
	// magnitudes, with exponents not padded to two digits.
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// e-07 → e-7
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString mirrors encoding/json's appendString with HTML escaping
// on (json.Marshal's default).
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				// Other control characters, and <, >, & so a body pasted
				// into HTML cannot open a tag.
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but break JSONP/JavaScript.
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
