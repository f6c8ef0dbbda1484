package app

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"sort"
	"strconv"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

// A history's cached entry holds every week of the series, so that every
// page, not only the first, is a slice of one entry and a log change still
// drops one key per series. Like the first page of logs (firstpage.go) it
// keeps each item's JSON, where it ends and its keyset:
//
//	'H' owner(int64) metaLen(uint32) count(uint32)           17 bytes
//	count × { end(uint32) weekStartDay(int64) }              12 bytes each
//	meta: `"exercise":…,"unit":…`
//	items' JSON joined by ','
//
// Weeks are newest first; the owner authorizes a hit without a database read.
const (
	historyMagic  = 'H'
	historyHeader = 17
	historyEntry  = 12
)

var errHistoryCorrupt = errors.New("cached history is corrupt")

func encodeHistory(owner int64, exercise string, unit domain.Unit, weeks []domain.WeekStats) ([]byte, error) {
	meta, err := json.Marshal(exercise)
	if err != nil {
		return nil, err
	}
	meta = append([]byte(`"exercise":`), meta...)
	meta = append(meta, `,"unit":`...)
	meta = strconv.AppendQuote(meta, string(unit)) // a unit is plain ASCII
	head := historyHeader + len(weeks)*historyEntry
	out := make([]byte, head, head+len(meta)+len(weeks)*96)
	out[0] = historyMagic
	binary.BigEndian.PutUint64(out[1:], uint64(owner))
	binary.BigEndian.PutUint32(out[9:], uint32(len(meta)))
	binary.BigEndian.PutUint32(out[13:], uint32(len(weeks)))
	out = append(out, meta...)
	items := len(out)
	for i, w := range weeks {
		if i > 0 {
			out = append(out, ',')
		}
		b, err := json.Marshal(WeekView{
			WeekStart: w.WeekStart.String(), Logs: w.Logs, Sets: w.Sets, Volume: w.Volume, BestE1RM: w.BestE1RM,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
		e := out[historyHeader+i*historyEntry:]
		binary.BigEndian.PutUint32(e, uint32(len(out)-items))
		binary.BigEndian.PutUint64(e[4:], uint64(weekDay(w.WeekStart)))
	}
	return out, nil
}

// weekDay is the cursor key of a week: its Monday's days since 1970-01-01,
// positive for every week a log can be in (logs start in 2000).
func weekDay(d domain.Date) int64 { return d.Time().Unix() / (24 * 60 * 60) }

type historyParts struct {
	count int
	index []byte
	meta  []byte
	items []byte
}

func parseHistory(entry []byte) (historyParts, error) {
	if len(entry) < historyHeader || entry[0] != historyMagic {
		return historyParts{}, errHistoryCorrupt
	}
	metaLen := int(binary.BigEndian.Uint32(entry[9:]))
	count := int(binary.BigEndian.Uint32(entry[13:]))
	head := historyHeader + count*historyEntry
	if count < 0 || metaLen < 0 || head < historyHeader || len(entry) < head+metaLen {
		return historyParts{}, errHistoryCorrupt
	}
	return historyParts{
		count: count,
		index: entry[historyHeader:head],
		meta:  entry[head : head+metaLen],
		items: entry[head+metaLen:],
	}, nil
}

func historyOwner(entry []byte) (int64, error) {
	if _, err := parseHistory(entry); err != nil {
		return 0, err
	}
	return int64(binary.BigEndian.Uint64(entry[1:])), nil
}

// sliceHistory is the JSON of the page of at most limit weeks that start
// before the week before (0: from the newest).
func sliceHistory(entry []byte, before int64, limit int) ([]byte, error) {
	p, err := parseHistory(entry)
	if err != nil {
		return nil, err
	}
	end := func(i int) int { return int(binary.BigEndian.Uint32(p.index[i*historyEntry:])) }
	week := func(i int) int64 { return int64(binary.BigEndian.Uint64(p.index[i*historyEntry+4:])) }
	first := 0
	if before > 0 {
		first = sort.Search(p.count, func(i int) bool { return week(i) < before })
	}
	n := min(limit, p.count-first)
	out := make([]byte, 0, 64+len(p.meta)+len(p.items))
	out = append(out, '{')
	out = append(out, p.meta...)
	out = append(out, `,"items":[`...)
	if n > 0 {
		start := 0
		if first > 0 {
			start = end(first-1) + 1 // after the comma
		}
		stop := end(first + n - 1)
		if start > stop || stop > len(p.items) {
			return nil, errHistoryCorrupt
		}
		out = append(out, p.items[start:stop]...)
	}
	out = append(out, `],"nextCursor":`...)
	if n > 0 && first+n < p.count {
		out = appendJSONString(out, EncodeWeekCursor(week(first+n-1)))
	} else {
		out = append(out, "null"...)
	}
	return append(out, '}'), nil
}
