package app

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/progressive-overload/po/services/kit/paging"
)

// The cached first page of a user's logs is held at the largest page size
// and sliced to the size asked for, so a client asking for ?limit=10 hits
// the same entry as one asking for the default, and a write still
// invalidates one key per user.
//
// A slice must be byte-identical to the uncached page of that size, so the
// entry keeps each item's JSON, where it ends, and the keyset its cursor is
// made of:
//
//	'F' count(uint16) more(byte)              3+1 bytes
//	count × { end(uint32) performedAtµs(int64) id(int64) }  20 bytes each
//	items' JSON joined by ','
//
// Fixed-width entries make the slice O(1) whatever the page size: a hit
// reads one offset and, when there is a next page, one cursor's keys.
const (
	firstPageMagic  = 'F'
	firstPageHeader = 4
	firstPageEntry  = 20
)

// firstPageRows is how many rows the loader fetches: the largest page and
// one more, which says whether a page of that size has a next one.
const firstPageRows = paging.MaxLimit + 1

var errFirstPageCorrupt = errors.New("cached first page of logs is corrupt")

// encodeFirstPage builds the cached entry from up to firstPageRows rows,
// newest first, as loadUserLogs' query returns them.
func encodeFirstPage(rows []LogView) ([]byte, error) {
	more := len(rows) > paging.MaxLimit
	if more {
		rows = rows[:paging.MaxLimit]
	}
	head := firstPageHeader + len(rows)*firstPageEntry
	out := make([]byte, head, head+len(rows)*logViewJSONSize)
	out[0] = firstPageMagic
	binary.BigEndian.PutUint16(out[1:], uint16(len(rows)))
	if more {
		out[3] = 1
	}
	var err error
	for i := range rows {
		if i > 0 {
			out = append(out, ',')
		}
		if out, err = rows[i].appendJSON(out); err != nil {
			return nil, err
		}
		e := out[firstPageHeader+i*firstPageEntry:]
		binary.BigEndian.PutUint32(e, uint32(len(out)-head))
		binary.BigEndian.PutUint64(e[4:], uint64(rows[i].PerformedAt.UnixMicro()))
		binary.BigEndian.PutUint64(e[12:], uint64(rows[i].ID))
	}
	return out, nil
}

// sliceFirstPage is the JSON of the first page of limit logs (1..MaxLimit)
// from an entry of encodeFirstPage: what encodeLogPage(logPage(rows, limit))
// gives for the same rows.
func sliceFirstPage(entry []byte, limit int) ([]byte, error) {
	if len(entry) < firstPageHeader || entry[0] != firstPageMagic || entry[3] > 1 {
		return nil, errFirstPageCorrupt
	}
	count := int(binary.BigEndian.Uint16(entry[1:]))
	more := entry[3] == 1
	head := firstPageHeader + count*firstPageEntry
	if count > paging.MaxLimit || len(entry) < head || (more && count < paging.MaxLimit) {
		return nil, errFirstPageCorrupt
	}
	body := entry[head:]
	n := min(limit, count)
	if n <= 0 {
		return []byte(`{"items":[],"nextCursor":null}`), nil
	}
	e := entry[firstPageHeader+(n-1)*firstPageEntry:]
	end := int(binary.BigEndian.Uint32(e))
	if end > len(body) {
		return nil, errFirstPageCorrupt
	}
	out := make([]byte, 0, logPageJSONOverhead+end+paging.MaxCursorLen)
	out = append(out, `{"items":[`...)
	out = append(out, body[:end]...)
	out = append(out, `],"nextCursor":`...)
	if n < count || more {
		c := EncodeLogCursor(LogCursor{
			PerformedAt: time.UnixMicro(int64(binary.BigEndian.Uint64(e[4:]))),
			ID:          int64(binary.BigEndian.Uint64(e[12:])),
		})
		out = appendJSONString(out, c)
	} else {
		out = append(out, "null"...)
	}
	return append(out, '}'), nil
}
