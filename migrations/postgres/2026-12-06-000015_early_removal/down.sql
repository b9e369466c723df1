DELETE FROM discrepancies WHERE kind = 'removed_early';
ALTER TABLE discrepancies DROP CONSTRAINT discrepancies_kind_check;
ALTER TABLE discrepancies ADD CONSTRAINT discrepancies_kind_check
    CHECK (kind IN ('not_accepted', 'unexpected_envelope', 'wrong_postamat', 'envelope_refused'));
