package app

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/progressive-overload/po/services/kit/paging"
)

// The cached first page of a user's logs is held at a page size and sliced
// to the size asked for, so a client asking for ?limit=10 hits the same
// entry as one asking for the default, and a write still invalidates the
// user's pages in one operation. There are two sizes: the default page
// (paging.DefaultLimit), which nearly every read asks for or for less, and
// the largest (paging.MaxLimit) for the rest. Holding every user's page at
// the largest size would make each fill, a cold one or one after a write,
// read and encode five times the rows that nearly every reader needs: under
// the bench's mixed load those fills were a fifth of the service's CPU.
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

// The two sizes of a cached first page. The loader fetches one row more
// than the size, which says whether a page of that size has a next one.
const (
	smallFirstPage = paging.DefaultLimit
	fullFirstPage  = paging.MaxLimit
)

// firstPageSize is the size of the cached first page that a page of limit
// rows is sliced from.
func firstPageSize(limit int) int {
	if limit <= smallFirstPage {
		return smallFirstPage
	}
	return fullFirstPage
}

var errFirstPageCorrupt = errors.New("cached first page of logs is corrupt")

// encodeFirstPage builds the cached entry of a first page of size rows
// (smallFirstPage or fullFirstPage) from up to size+1 rows, newest first,
// as the loader's query returns them.
func encodeFirstPage(rows []LogView, size int) ([]byte, error) {
	more := len(rows) > size
	if more {
		rows = rows[:size]
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

// sliceFirstPage is the JSON of the first page of limit logs (1..size)
// from an entry that encodeFirstPage made for a page of size rows: what
// encodeLogPage(logPage(rows, limit)) gives for the same rows.
func sliceFirstPage(entry []byte, limit, size int) ([]byte, error) {
	if len(entry) < firstPageHeader || entry[0] != firstPageMagic || entry[3] > 1 || limit > size {
		return nil, errFirstPageCorrupt
	}
	count := int(binary.BigEndian.Uint16(entry[1:]))
	more := entry[3] == 1
	head := firstPageHeader + count*firstPageEntry
	if count > size || len(entry) < head || (more && count < size) {
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
