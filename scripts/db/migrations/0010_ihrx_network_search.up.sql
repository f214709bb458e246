-- Network search (networks/?search=, ?name=) matches substrings of names and
-- numbers: trigram indexes let it avoid scanning ihr_asn. Ours, hence ihrx_.
-- search= filters on the concatenation first (one index serves both the number and
-- the name), then checks each; see services/query/internal/store.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX ihrx_asn_name_trgm ON ihr_asn USING gin (name gin_trgm_ops);
CREATE INDEX ihrx_asn_search_trgm ON ihr_asn USING gin ((number::text || ' ' || name) gin_trgm_ops);
