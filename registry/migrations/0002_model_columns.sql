-- The model's own column order: the feature each column of the canonical
-- artifact reads. Versions registered before held artifacts remapped to the
-- feature set's order, so their columns are the set's features.
ALTER TABLE registry_versions ADD COLUMN columns_json TEXT NOT NULL DEFAULT '';
UPDATE registry_versions SET columns_json = features_json;
