package store

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/ihr-go/ihr/pkg/events"
)

// hegemony rows are staged packed, 24 bytes each (originasn, asn, hege),
// so staging a batch is one small durable write.
const packedHegemonyRow = 24

func packHegemony(rows []events.HegemonyRow) []byte {
	b := make([]byte, 0, len(rows)*packedHegemonyRow)
	for _, r := range rows {
		b = binary.LittleEndian.AppendUint64(b, uint64(r.OriginASN))
		b = binary.LittleEndian.AppendUint64(b, uint64(r.ASN))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.Hege))
	}
	return b
}

func unpackHegemony(b []byte, into []events.HegemonyRow) ([]events.HegemonyRow, error) {
	if len(b)%packedHegemonyRow != 0 {
		return nil, fmt.Errorf("staged batch of %d bytes is not whole rows", len(b))
	}
	for ; len(b) > 0; b = b[packedHegemonyRow:] {
		into = append(into, events.HegemonyRow{
			OriginASN: int64(binary.LittleEndian.Uint64(b)),
			ASN:       int64(binary.LittleEndian.Uint64(b[8:])),
			Hege:      math.Float64frombits(binary.LittleEndian.Uint64(b[16:])),
		})
	}
	return into, nil
}
