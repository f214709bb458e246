-- Reverts 0006_metis_tr_hegemony.
DROP TABLE ihr_tr_hegemony;
DROP TABLE ihr_metis_atlas_deployment;
DROP TABLE ihr_metis_atlas_selection;
