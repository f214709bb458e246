-- Reverts 0001_reference_tables.
DROP TABLE ihr_tr_hegemony_identifier;
DROP TABLE ihr_atlas_location;
DROP TABLE ihr_country;
DROP TABLE ihr_asn;
