package store

import (
	"context"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/jackc/pgx/v5/pgxpool"
)

// benchCommit stages and commits b.N bins of 20,000 rows of d, built by
// row(i); the service's CPU per bin shows with -cpuprofile.
func benchCommit(b *testing.B, d *events.Dataset, row func(i int) any) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testkit.NewDB(b))
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	st := New(pool)
	per := d.BatchRows()
	rows := reflect.MakeSlice(reflect.SliceOf(d.RowType()), 0, 20000)
	for i := range 20000 {
		rows = reflect.Append(rows, reflect.ValueOf(row(i)))
	}
	n := 0
	for b.Loop() {
		bin := d.NewBin(4, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n*d.BinSeconds)*time.Second), "bench")
		n++
		batches := 0
		for start := 0; start < rows.Len(); start += per {
			chunk := rows.Slice(start, min(start+per, rows.Len()))
			if err := st.Stage(ctx, &events.Batch{BatchHeader: events.BatchHeader{Bin: bin, BatchSeq: batches}, Rows: chunk.Interface(), Len: chunk.Len()}); err != nil {
				b.Fatal(err)
			}
			batches++
		}
		if _, err := st.Commit(ctx, d, &events.BinComplete{Bin: bin, BatchCount: batches, RowCount: rows.Len()}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCommitHegemony(b *testing.B) {
	benchCommit(b, events.Hegemony, func(i int) any {
		return events.HegemonyRow{OriginASN: int64(100000 + i/4), ASN: int64(174 + i%4), Hege: 0.5}
	})
}

func BenchmarkCommitAtlasDelay(b *testing.B) {
	benchCommit(b, events.AtlasDelay, func(k int) any {
		return events.AtlasDelayRow{Startpoint: events.Location{Type: "AS", Name: strconv.Itoa(64512 + k/100), AF: 4},
			Endpoint: events.Location{Type: "CT", Name: "City " + strconv.Itoa(k%100), AF: 4}, Median: 10, NbTracks: 30, NbProbes: 5, Hop: 3}
	})
}
