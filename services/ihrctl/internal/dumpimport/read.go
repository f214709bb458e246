// Package dumpimport publishes IHR's daily CSV dumps (archive.ihr.live) as
// bins through JetStream, so they take the same path as a pipeline's
// results: the same validation, exactly-once commits and results events.
package dumpimport

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/pierrec/lz4/v4"
)

// File is a dump file; AF is the address family of its rows when the file
// has no af column (IHR names it in the path: ipv4, ipv6).
type File struct {
	Path string
	AF   int
}

// AFFromPath guesses the address family from a dump's path (ipv4 or ipv6 in
// it), or returns 0.
func AFFromPath(path string) int {
	switch {
	case strings.Contains(path, "ipv6") || strings.Contains(path, "_v6"):
		return 6
	case strings.Contains(path, "ipv4") || strings.Contains(path, "_v4"):
		return 4
	}
	return 0
}

// binKey is a bin of the import: af and time bin.
type binKey struct {
	af      int
	timebin time.Time
}

// reader yields a dump's rows, decompressed and parsed, with their bins.
type reader struct {
	d      *events.Dataset
	file   File
	f      *os.File
	csv    *csv.Reader
	cols   columns
	line   int
	closer io.Closer
}

// open opens a dump (.csv, .csv.gz or .csv.lz4); raw, when given, sees the
// file's bytes as they are read (to hash them).
func open(d *events.Dataset, file File, raw hash.Hash) (*reader, error) {
	f, err := os.Open(file.Path)
	if err != nil {
		return nil, err
	}
	var in io.Reader = f
	if raw != nil {
		in = io.TeeReader(f, raw) // below the buffer: every byte read is hashed once
	}
	in = bufio.NewReaderSize(in, 1<<20)
	r := &reader{d: d, file: file, f: f}
	switch {
	case strings.HasSuffix(file.Path, ".lz4"):
		in = lz4.NewReader(in)
	case strings.HasSuffix(file.Path, ".gz"):
		gz, err := gzip.NewReader(in)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", file.Path, err)
		}
		in, r.closer = gz, gz
	}
	r.csv = csv.NewReader(in)
	r.csv.ReuseRecord = true
	header, err := r.csv.Read()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("%s: header: %w", file.Path, err)
	}
	if r.cols, err = mapColumns(d, header); err != nil {
		r.Close()
		return nil, fmt.Errorf("%s: %w", file.Path, err)
	}
	if r.cols.af < 0 && d.AF == events.AFColumn && file.AF == 0 {
		r.Close()
		return nil, fmt.Errorf("%s: no af column and no ipv4/ipv6 in the name: give --af", file.Path)
	}
	r.line = 1
	return r, nil
}

// next reads a row into row (an addressable value of the row type) and
// returns its bin; io.EOF at the end.
func (r *reader) next(row reflect.Value) (binKey, error) {
	rec, err := r.csv.Read()
	r.line++
	if err != nil {
		if errors.Is(err, io.EOF) {
			return binKey{}, io.EOF
		}
		return binKey{}, fmt.Errorf("%s: %w", r.file.Path, err)
	}
	k, err := r.cols.parse(rec, row, r.file.AF, r.d)
	if err != nil {
		return k, fmt.Errorf("%s line %d: %w", r.file.Path, r.line, err)
	}
	return k, nil
}

// Close closes the file.
func (r *reader) Close() error {
	if r.closer != nil {
		r.closer.Close()
	}
	return r.f.Close()
}

// columns maps a header to the row's fields.
type columns struct {
	timebin, af int
	fields      []fieldColumns
}

// fieldColumns are the columns of one field: one for a value, type and name
// (and af) for an identifier or a location.
type fieldColumns struct {
	f    events.Field
	cols []int
}

// mapColumns finds each field's column by its JSON name, its column name,
// or <name>_id; identifiers and locations by <name>_type and <name>_name.
func mapColumns(d *events.Dataset, header []string) (columns, error) {
	index := map[string]int{}
	for i, h := range header {
		index[strings.ToLower(strings.TrimSpace(h))] = i
	}
	find := func(names ...string) int {
		for _, n := range names {
			if i, ok := index[n]; ok {
				return i
			}
		}
		return -1
	}
	c := columns{timebin: find("timebin"), af: find("af")}
	if c.timebin < 0 {
		return c, fmt.Errorf("no timebin column in the header %v", header)
	}
	for _, f := range d.Fields() {
		fc := fieldColumns{f: f}
		switch f.Kind {
		case events.KindIdentifier, events.KindLocation:
			fc.cols = []int{find(f.JSON + "_type"), find(f.JSON + "_name"), find(f.JSON + "_af")}
			if fc.cols[0] < 0 || fc.cols[1] < 0 {
				return c, fmt.Errorf("no %s_type and %s_name columns in the header %v", f.JSON, f.JSON, header)
			}
		default:
			i := find(f.JSON, f.Column, f.JSON+"_id")
			if i < 0 {
				if f.Optional(d) {
					continue
				}
				return c, fmt.Errorf("no %s column in the header %v", f.JSON, header)
			}
			fc.cols = []int{i}
		}
		c.fields = append(c.fields, fc)
	}
	return c, nil
}

func (c *columns) parse(rec []string, row reflect.Value, fileAF int, d *events.Dataset) (binKey, error) {
	tb, err := events.ParseTime(rec[c.timebin])
	if err != nil {
		return binKey{}, err
	}
	k := binKey{af: fileAF, timebin: tb}
	if c.af >= 0 {
		if k.af, err = strconv.Atoi(rec[c.af]); err != nil {
			return k, fmt.Errorf("af %q is not a number", rec[c.af])
		}
	}
	if d.AF == events.AFNone {
		k.af = 0
	}
	row.SetZero()
	for i := range c.fields {
		fc := &c.fields[i]
		switch fc.f.Kind {
		case events.KindIdentifier:
			fc.f.SetValue(row, events.Identifier{Type: strings.ToUpper(rec[fc.cols[0]]), Name: rec[fc.cols[1]]})
		case events.KindLocation:
			af := k.af
			if fc.cols[2] >= 0 {
				if af, err = strconv.Atoi(rec[fc.cols[2]]); err != nil {
					return k, fmt.Errorf("%s_af %q is not a number", fc.f.JSON, rec[fc.cols[2]])
				}
			}
			fc.f.SetValue(row, events.Location{Type: strings.ToUpper(rec[fc.cols[0]]), Name: rec[fc.cols[1]], AF: af})
		default:
			if err := fc.f.SetText(row, rec[fc.cols[0]]); err != nil {
				return k, err
			}
		}
	}
	return k, nil
}
