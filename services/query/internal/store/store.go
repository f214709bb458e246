// Package store runs validated queries on PostgreSQL and streams the rows
// as legacy JSON items, without holding a page in memory.
package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ihr-go/ihr/services/query/internal/endpoint"
	"github.com/ihr-go/ihr/services/query/internal/jsonenc"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres runs queries on a pool.
type Postgres struct {
	pool *pgxpool.Pool
	// counts is a pool of its own for the counts a first page asks while
	// it holds a connection of pool: taken from pool, many such pages at
	// once would each wait for a second connection that none gives back.
	counts *pgxpool.Pool
}

// New returns the store on pool, counting first pages on counts.
func New(pool, counts *pgxpool.Pool) *Postgres { return &Postgres{pool: pool, counts: counts} }

// Page is an open page of results: its total count and a cursor on its rows.
type Page struct {
	Count int64
	// Latest is the newest bin of the table, for a query of the latest bin.
	Latest time.Time
	rows   pgx.Rows
	fields []endpoint.Field
	keys   [][]byte
	dest   []any
	ready  bool // a row was fetched and not encoded yet
	// limit stops the items at a page (0: no limit); emitted counts them.
	limit, emitted int
	prefetched     []byte
	pooled         *[]byte // prefetched's buffer, back to the pool on Close
	// encoded remembers the JSON of short strings per field: names repeat
	// on almost every row (a network's name, a location).
	encoded []map[string][]byte
}

// encodedCacheSize bounds each field's string cache.
const encodedCacheSize = 4096

// prefetchMax bounds what a first page holds back while it finds out
// whether it needs counting.
const prefetchMax = 1 << 20

// prefetchBuffers keeps the held-back bytes' buffers: reused, they need
// not grow again (growing them was a sixth of the CPU of a 700 kB answer).
var prefetchBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// Open counts the rows q matches and starts reading page q.Page of size
// rows. Errors of the page query show here, before anything is sent.
func (p *Postgres) Open(ctx context.Context, q *endpoint.Query, size int) (*Page, error) {
	e := q.Endpoint
	where, args := whereClause(q)
	var latest *time.Time
	if q.Latest {
		if err := p.pool.QueryRow(ctx, "SELECT max(timebin) FROM "+e.Time.Table).Scan(&latest); err != nil {
			return nil, fmt.Errorf("latest time: %w", err)
		}
		if latest == nil {
			return &Page{}, nil
		}
		args = append(args, *latest)
		where = append(where, fmt.Sprintf("%s = $%d", e.Time.Column, len(args)))
	}
	pg, err := p.open(ctx, q, size, where, args)
	if pg != nil && latest != nil {
		pg.Latest = latest.UTC()
	}
	return pg, err
}

func (p *Postgres) open(ctx context.Context, q *endpoint.Query, size int, where []string, args []any) (*Page, error) {
	e := q.Endpoint
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	if q.Page == 1 && q.Format != "csv" {
		pg, err := p.openFirst(ctx, q, size, cond, args)
		if pg != nil || err != nil {
			return pg, err
		}
	}
	pg := &Page{fields: e.Fields}
	if err := p.pool.QueryRow(ctx, "SELECT count(*) FROM "+e.From+cond, args...).Scan(&pg.Count); err != nil {
		return nil, fmt.Errorf("count: %w", err)
	}
	offset := int64(q.Page-1) * int64(size)
	if offset >= pg.Count {
		return pg, nil
	}
	// One page and no order asked for: as the legacy API, the database's
	// order; the tie-break only keeps pages from overlapping.
	ordered := len(q.Order) > 0 || e.Ordered || pg.Count > int64(size)
	rows, err := p.pool.Query(ctx, pageSQL(q, cond, ordered, size, offset), args...)
	if err != nil {
		return nil, fmt.Errorf("page: %w", err)
	}
	pg.rows = rows
	pg.prepare()
	if pg.ready = rows.Next(); !pg.ready {
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("page: %w", err)
		}
	}
	return pg, nil
}

// openFirst reads a first page without counting first: most answers fit
// in one page, whose count is the rows it holds. It holds back up to
// prefetchMax bytes of items; past that, or past one page, it counts on
// another connection while this one keeps the rows. It returns nil when
// the answer spans pages and no order was asked: the page must then be
// read again in the tie-break order, so that pages do not overlap.
func (p *Postgres) openFirst(ctx context.Context, q *endpoint.Query, size int, cond string, args []any) (*Page, error) {
	ordered := len(q.Order) > 0 || q.Endpoint.Ordered
	rows, err := p.pool.Query(ctx, pageSQL(q, cond, ordered, size+1, 0), args...)
	if err != nil {
		return nil, fmt.Errorf("page: %w", err)
	}
	pg := &Page{fields: q.Endpoint.Fields, rows: rows, limit: size + 1, pooled: prefetchBuffers.Get().(*[]byte)}
	pg.prepare()
	buf := (*pg.pooled)[:0]
	for len(buf) < prefetchMax {
		mark := len(buf)
		if pg.emitted > 0 {
			buf = append(buf, ',')
		}
		var ok bool
		if buf, ok, err = pg.Next(buf); err != nil {
			return nil, fmt.Errorf("page: %w", err)
		}
		if !ok {
			*pg.pooled = buf[:0] // keep what it grew to
			pg.Count, pg.prefetched, pg.limit = int64(pg.emitted), buf[:mark], pg.emitted
			return pg, nil
		}
		if pg.emitted > size { // a second page exists: this row is not ours
			buf, pg.emitted = buf[:mark], size
			break
		}
	}
	if err := p.counts.QueryRow(ctx, "SELECT count(*) FROM "+q.Endpoint.From+cond, args...).Scan(&pg.Count); err != nil {
		pg.Close()
		return nil, fmt.Errorf("count: %w", err)
	}
	if !ordered && pg.Count > int64(size) {
		pg.Close()
		return nil, nil
	}
	*pg.pooled = buf[:0]
	pg.prefetched, pg.limit = buf, size
	return pg, nil
}

// pageSQL selects a page of q's rows.
func pageSQL(q *endpoint.Query, cond string, ordered bool, limit int, offset int64) string {
	e := q.Endpoint
	cols := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		cols[i] = f.Column
		if q.Hidden[f.Name] {
			cols[i] = "NULL"
		}
	}
	orderBy := ""
	if ordered {
		order := make([]string, 0, len(q.Order)+1)
		for _, o := range q.Order {
			if o.Desc {
				order = append(order, o.Column+" DESC")
			} else {
				order = append(order, o.Column)
			}
		}
		orderBy = " ORDER BY " + strings.Join(append(order, e.Order), ", ")
	}
	return "SELECT " + strings.Join(cols, ", ") + " FROM " + e.From + cond + orderBy +
		" LIMIT " + strconv.Itoa(limit) + " OFFSET " + strconv.FormatInt(offset, 10)
}

// Prefetched is the JSON of the first items, comma-separated, read before
// the count was known; Next continues after them.
func (pg *Page) Prefetched() []byte { return pg.prefetched }

func (pg *Page) prepare() {
	pg.keys = make([][]byte, len(pg.fields))
	pg.dest = make([]any, len(pg.fields))
	pg.encoded = make([]map[string][]byte, len(pg.fields))
	for i, f := range pg.fields {
		sep := ","
		if i == 0 {
			sep = "{"
		}
		pg.keys[i] = append(jsonenc.String([]byte(sep), f.Name), ':')
		switch f.Kind {
		case endpoint.Int:
			pg.dest[i] = new(int64)
		case endpoint.Float:
			pg.dest[i] = new(float64)
		case endpoint.Time:
			pg.dest[i] = new(time.Time)
		case endpoint.Bool:
			pg.dest[i] = new(bool)
		case endpoint.JSON, endpoint.Probes:
			pg.dest[i] = new(*string)
		case endpoint.Strings:
			pg.dest[i] = new([]string)
		default:
			pg.dest[i] = new(string)
		}
	}
}

// scan reads the next row into pg.dest; ok is false after the last one.
func (pg *Page) scan() (ok bool, err error) {
	if pg.rows == nil {
		return false, nil
	}
	if !pg.ready && !pg.rows.Next() {
		pg.rows.Close()
		return false, pg.rows.Err()
	}
	pg.ready = false
	if err := pg.rows.Scan(pg.dest...); err != nil {
		pg.rows.Close()
		return false, err
	}
	return true, nil
}

// Next appends the next item's JSON to b; ok is false after the last one.
func (pg *Page) Next(b []byte) (_ []byte, ok bool, err error) {
	if pg.limit > 0 && pg.emitted >= pg.limit {
		pg.rows.Close()
		return b, false, nil
	}
	if ok, err = pg.scan(); !ok {
		return b, false, err
	}
	pg.emitted++
	for i, d := range pg.dest {
		b = append(b, pg.keys[i]...)
		if b, err = pg.value(b, i, d); err != nil {
			pg.rows.Close()
			return b, false, err
		}
	}
	return append(b, '}'), true, nil
}

// NextRecord fills record (one string per field) with the next row for
// CSV; ok is false after the last one. Strings are raw, other values as in JSON.
func (pg *Page) NextRecord(record []string) (ok bool, err error) {
	if ok, err = pg.scan(); !ok {
		return false, err
	}
	var b []byte
	for i, d := range pg.dest {
		switch v := d.(type) {
		case *string:
			record[i] = *v
			continue
		case *time.Time:
			record[i] = strings.Trim(string(jsonenc.Time(b[:0], *v)), `"`)
			continue
		}
		if b, err = pg.value(b[:0], i, d); err != nil {
			pg.rows.Close()
			return false, err
		}
		record[i] = string(b)
	}
	return true, nil
}

// value appends the JSON of the scanned value d of field i.
func (pg *Page) value(b []byte, i int, d any) ([]byte, error) {
	switch v := d.(type) {
	case *int64:
		return jsonenc.Int(b, *v), nil
	case *float64:
		return jsonenc.Float(b, *v), nil
	case *time.Time:
		return jsonenc.Time(b, *v), nil
	case *bool:
		return jsonenc.Bool(b, *v), nil
	case *string:
		return pg.encodeString(b, i, *v), nil
	case *[]string:
		b = append(b, '[')
		for j, x := range *v {
			if j > 0 {
				b = append(b, ',')
			}
			b = jsonenc.String(b, x)
		}
		return append(b, ']'), nil
	case **string:
		switch {
		case *v == nil:
			return append(b, "null"...), nil
		case pg.fields[i].Kind == endpoint.Probes:
			return probes(b, **v)
		}
		return jsonenc.Compact(b, **v), nil
	}
	return b, fmt.Errorf("field %s: unexpected value %T", pg.fields[i].Name, d)
}

// Close releases the rows of a page not read to the end, and the
// held-back bytes (Prefetched is void after it).
func (pg *Page) Close() {
	if pg.rows != nil {
		pg.rows.Close()
	}
	if pg.pooled != nil {
		prefetchBuffers.Put(pg.pooled)
		pg.pooled, pg.prefetched = nil, nil
	}
}

func (pg *Page) encodeString(b []byte, i int, s string) []byte {
	if len(s) > 256 {
		return jsonenc.String(b, s)
	}
	cache := pg.encoded[i]
	if enc, ok := cache[s]; ok {
		return append(b, enc...)
	}
	start := len(b)
	b = jsonenc.String(b, s)
	if cache == nil {
		cache = map[string][]byte{}
		pg.encoded[i] = cache
	}
	if len(cache) < encodedCacheSize {
		cache[s] = append([]byte(nil), b[start:]...)
	}
	return b
}

// likeEscape makes s match itself literally inside a LIKE pattern.
var likeEscape = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// whereClause turns the filters into parameterised conditions.
func whereClause(q *endpoint.Query) ([]string, []any) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	for _, f := range q.Filters {
		c := f.Param.Column
		switch f.Param.Op {
		case endpoint.Eq:
			where = append(where, c+" = "+arg(f.Values[0]))
		case endpoint.Gte:
			where = append(where, c+" >= "+arg(f.Values[0]))
		case endpoint.Lte:
			where = append(where, c+" <= "+arg(f.Values[0]))
		case endpoint.In, endpoint.InPipe:
			where = append(where, c+" = ANY("+arg(list(f))+")")
		case endpoint.IContains:
			where = append(where, c+" ILIKE "+arg("%"+likeEscape.Replace(f.Values[0].(string))+"%"))
		case endpoint.Contains:
			where = append(where, c+" LIKE "+arg("%"+likeEscape.Replace(f.Values[0].(string))+"%"))
		case endpoint.LocationKey:
			var alts []string
			for _, v := range f.Values {
				k := v.(endpoint.LocKey)
				conds := []string{c + ".type = " + arg(k.Type)}
				if k.AF != nil {
					conds = append(conds, c+".af = "+arg(*k.AF))
				}
				if k.Name != nil {
					conds = append(conds, c+".name = "+arg(*k.Name))
				}
				alts = append(alts, "("+strings.Join(conds, " AND ")+")")
			}
			where = append(where, "("+strings.Join(alts, " OR ")+")")
		case endpoint.WhenTrue:
			where = append(where, "("+c+")")
		case endpoint.Search:
			term := f.Values[0].(string)
			number := term
			if len(term) > 2 && (strings.EqualFold(term[:2], "AS") || strings.EqualFold(term[:2], "IX")) {
				if _, err := strconv.ParseInt(term[2:], 10, 64); err == nil {
					number = term[2:]
				}
			}
			// The concatenation holds both: filtering on it first lets the
			// trigram index ihrx_asn_search_trgm serve the search.
			numberArg := arg("%" + likeEscape.Replace(number) + "%")
			where = append(where, "("+c+".number::text || ' ' || "+c+".name) ILIKE "+numberArg,
				"("+c+".number::text LIKE "+numberArg+" OR "+c+".name ILIKE "+arg("%"+likeEscape.Replace(term)+"%")+")")
		}
	}
	return where, args
}

// list makes a typed array argument of a list filter.
func list(f endpoint.Filter) any {
	if f.Param.Kind == endpoint.Int {
		out := make([]int64, len(f.Values))
		for i, v := range f.Values {
			out[i] = v.(int64)
		}
		return out
	}
	out := make([]string, len(f.Values))
	for i, v := range f.Values {
		out[i] = fmt.Sprint(v)
	}
	return out
}
