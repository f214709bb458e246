-- Reverts 0005_disco.
DROP TABLE ihr_disco_probes;
DROP TABLE ihr_disco_events;
