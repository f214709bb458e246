package store

import (
	"bytes"
	"fmt"
	"reflect"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/vmihailenco/msgpack/v5"
)

// Staged batches are msgpack, structs as arrays: compact and quick, so
// staging a batch is one small durable write.
func pack(rows any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseArrayEncodedStructs(true)
	if err := enc.Encode(rows); err != nil {
		return nil, fmt.Errorf("pack batch: %w", err)
	}
	return buf.Bytes(), nil
}

// unpack appends the rows of a staged batch to into, a slice of d's row type.
func unpack(d *events.Dataset, b []byte, into reflect.Value) (reflect.Value, error) {
	batch := reflect.New(reflect.SliceOf(d.RowType()))
	if err := msgpack.Unmarshal(b, batch.Interface()); err != nil {
		return into, fmt.Errorf("unpack staged batch: %w", err)
	}
	return reflect.AppendSlice(into, batch.Elem()), nil
}
