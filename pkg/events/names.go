package events

import (
	"crypto/sha256"
	"encoding/hex"
)

// SchemaNames is the contract of network and country names.
const SchemaNames = "ihr.names/v1"

// Names is the dataset name of names updates (subject ihr.ingest.names.update).
const Names = "names"

// NamesUpdate sets the names (and coverage flags) of networks and
// countries. Rows the measurement datasets created carry an empty name until
// an update names them.
type NamesUpdate struct {
	Schema    string        `json:"schema"`
	Producer  Producer      `json:"producer"`
	Networks  []NetworkName `json:"networks,omitempty"`
	Countries []CountryName `json:"countries,omitempty"`
}

// NetworkName names an AS (or, negative, an IXP). A flag left out keeps its value.
type NetworkName struct {
	Number      int64  `json:"number"`
	Name        string `json:"name"`
	ASHash      *bool  `json:"ashash,omitempty"`
	Tartiflette *bool  `json:"tartiflette,omitempty"`
	Disco       *bool  `json:"disco,omitempty"`
}

// CountryName names a country by its code.
type CountryName struct {
	Code        string `json:"code"`
	Name        string `json:"name"`
	Tartiflette *bool  `json:"tartiflette,omitempty"`
	Disco       *bool  `json:"disco,omitempty"`
}

// NamesSubject is where names updates are published.
func NamesSubject() string { return "ihr.ingest." + Names + ".update" }

// NamesMsgID de-duplicates an update by its content.
func NamesMsgID(data []byte) string {
	sum := sha256.Sum256(data)
	return Names + ":" + hex.EncodeToString(sum[:12])
}

// DecodeNames parses and validates a names update.
func DecodeNames(data []byte) (*NamesUpdate, error) {
	if _, err := expectSchema(data, SchemaNames); err != nil {
		return nil, err
	}
	var u NamesUpdate
	if err := decodeStrict(data, &u); err != nil {
		return nil, err
	}
	if len(u.Networks)+len(u.Countries) > MaxBatchRows {
		return nil, invalid("%d names in one message, at most %d", len(u.Networks)+len(u.Countries), MaxBatchRows)
	}
	networks := make(map[int64]bool, len(u.Networks))
	for i, n := range u.Networks {
		switch {
		case n.Number < -(1<<31) || n.Number > 1<<32-1:
			return nil, invalid("network %d: number must be an AS number (or a negative IXP id)", i)
		case len(n.Name) > 255:
			return nil, invalid("network %d: name must be at most 255 bytes", i)
		case networks[n.Number]:
			return nil, invalid("network %d: number %d appears twice", i, n.Number)
		}
		networks[n.Number] = true
	}
	countries := make(map[string]bool, len(u.Countries))
	for i, c := range u.Countries {
		switch {
		case c.Code == "" || len(c.Code) > 4:
			return nil, invalid("country %d: code must be 1 to 4 bytes", i)
		case len(c.Name) > 255:
			return nil, invalid("country %d: name must be at most 255 bytes", i)
		case countries[c.Code]:
			return nil, invalid("country %d: code %q appears twice", i, c.Code)
		}
		countries[c.Code] = true
	}
	return &u, nil
}
