-- Reverts 0010_ihrx_network_search (the pg_trgm extension stays: others may use it).
DROP INDEX ihrx_asn_search_trgm;
DROP INDEX ihrx_asn_name_trgm;
