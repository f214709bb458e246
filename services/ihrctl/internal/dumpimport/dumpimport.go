package dumpimport

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/publish"
)

// Plan is what a first pass over the files found: the run id (from the
// files' content, so importing them again is the same run) and the rows of
// each bin.
type Plan struct {
	Dataset *events.Dataset
	Files   []File
	RunID   string
	Rows    int64
	bins    map[binKey]int
}

// Bins is the number of bins of the import.
func (p *Plan) Bins() int { return len(p.bins) }

// Scan reads every file once: it checks every row and bin, counts the rows
// of each bin and hashes the files. A bin may span files (IHR dumps the
// global graph and the local ones of a bin in two files).
func Scan(d *events.Dataset, files []File, progress func(rows int64)) (*Plan, error) {
	p := &Plan{Dataset: d, Files: files, bins: map[binKey]int{}, RunID: "scan"} // the real run id needs every byte
	all := sha256.New()
	one := reflect.MakeSlice(reflect.SliceOf(d.RowType()), 1, 1)
	err := eachRow(d, files, func(r *reader, k binKey, row reflect.Value) error {
		if _, seen := p.bins[k]; !seen {
			if err := d.CheckBin(p.bin(k)); err != nil {
				return fmt.Errorf("%s line %d: %w", r.file.Path, r.line, err)
			}
		}
		one.Index(0).Set(row)
		if err := d.CheckRows(p.bin(k), one.Interface()); err != nil {
			return fmt.Errorf("%s line %d: %w", r.file.Path, r.line, err)
		}
		p.bins[k]++
		if p.Rows++; progress != nil && p.Rows%10000 == 0 {
			progress(p.Rows)
		}
		return nil
	}, func(sum []byte) { all.Write(sum) })
	if err != nil {
		return nil, err
	}
	p.RunID = "dump-" + hex.EncodeToString(all.Sum(nil))[:16]
	return p, nil
}

func (p *Plan) bin(k binKey) events.Bin {
	return events.Bin{Dataset: p.Dataset.Name, AF: k.af, Timebin: k.timebin, BinSeconds: p.Dataset.BinSeconds, RunID: p.RunID}
}

// state is what an interrupted import has done: the bins whose bin
// message JetStream acknowledged. Kept in a file so a rerun skips them.
type state struct {
	path string
	Done map[string]bool `json:"done"`
}

func loadState(dir, runID string) (*state, error) {
	s := &state{path: filepath.Join(dir, "import-"+runID+".json"), Done: map[string]bool{}}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return s, os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return nil, err
	}
	return s, json.Unmarshal(b, s)
}

func (s *state) save() error {
	b, _ := json.Marshal(s)
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, s.path)
}

func stateKey(k binKey) string {
	return strconv.Itoa(k.af) + ":" + strconv.FormatInt(k.timebin.Unix(), 10)
}

// openBin is a bin being published: its pending rows and batches sent.
type openBin struct {
	rows    reflect.Value
	batches int
	sent    int
}

// Result is what Publish did.
type Result struct {
	Bins, Skipped int
	Rows          int64
}

// Publish reads the files again and publishes each bin's rows in batches;
// a bin's message goes out as soon as its last row is read, so bins close
// while the import goes on. Batches are cut the same way on every run, so
// a rerun after an interruption republishes identical messages (which
// JetStream and the ledger drop) and skips the bins stateDir records done.
func Publish(ctx context.Context, p *Plan, pub *publish.Publisher, stateDir string, progress func(rows int64)) (Result, error) {
	st, err := loadState(stateDir, p.RunID)
	if err != nil {
		return Result{}, fmt.Errorf("import state: %w", err)
	}
	res := Result{Skipped: len(st.Done)}
	size := pub.BatchSize(p.Dataset.Name)
	pending := map[binKey]*openBin{}
	flush := func(k binKey, b *openBin) error {
		if _, err := pub.Batch(ctx, p.bin(k), b.batches, b.rows.Interface()); err != nil {
			return err
		}
		b.batches++
		b.rows = b.rows.Slice(0, 0)
		return nil
	}
	err = eachRow(p.Dataset, p.Files, func(_ *reader, k binKey, row reflect.Value) error {
		if res.Rows++; progress != nil && res.Rows%5000 == 0 {
			progress(res.Rows)
		}
		if st.Done[stateKey(k)] {
			return nil
		}
		b := pending[k]
		if b == nil {
			b = &openBin{rows: reflect.MakeSlice(reflect.SliceOf(p.Dataset.RowType()), 0, size)}
			pending[k] = b
		}
		b.rows = reflect.Append(b.rows, row)
		b.sent++
		if b.rows.Len() == size {
			if err := flush(k, b); err != nil {
				return err
			}
		}
		if b.sent < p.bins[k] {
			return nil
		}
		delete(pending, k)
		res.Bins++
		return closeBin(ctx, p, pub, k, b, flush, st)
	}, nil)
	if err != nil {
		return res, err
	}
	if len(pending) > 0 {
		return res, fmt.Errorf("%d bins did not get all their rows on the second read: did a file change?", len(pending))
	}
	if progress != nil {
		progress(res.Rows)
	}
	if err := os.Remove(st.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return res, err
	}
	return res, nil
}

// closeBin sends the bin's last rows and its bin message, then records it.
func closeBin(ctx context.Context, p *Plan, pub *publish.Publisher, k binKey, b *openBin,
	flush func(binKey, *openBin) error, st *state) error {
	if b.rows.Len() > 0 || b.batches == 0 {
		if err := flush(k, b); err != nil {
			return err
		}
	}
	if _, err := pub.Complete(ctx, p.bin(k), b.batches, b.sent); err != nil {
		return err
	}
	st.Done[stateKey(k)] = true
	return st.save()
}

// eachRow reads the files in order and calls fn with each row and its bin;
// with hashed, it gives each file's SHA-256 to hashed.
func eachRow(d *events.Dataset, files []File, fn func(r *reader, k binKey, row reflect.Value) error, hashed func(sum []byte)) error {
	row := reflect.New(d.RowType()).Elem()
	for _, file := range files {
		var h hash.Hash
		if hashed != nil {
			h = sha256.New()
		}
		r, err := open(d, file, h)
		if err != nil {
			return err
		}
		for err == nil {
			var k binKey
			if k, err = r.next(row); err == nil {
				err = fn(r, k, row)
			}
		}
		if h != nil {
			_, _ = io.Copy(h, r.f) // what the decoder left unread
			hashed(h.Sum(nil))
		}
		r.Close()
		if !errors.Is(err, io.EOF) {
			return err
		}
	}
	return nil
}
