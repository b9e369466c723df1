-- Issue 23 trap 4 (п.29): Kaspi taking a document out of its cell before the storage the
-- citizen was told of ended is recorded as a discrepancy of its own kind.
ALTER TABLE discrepancies DROP CONSTRAINT discrepancies_kind_check;
ALTER TABLE discrepancies ADD CONSTRAINT discrepancies_kind_check
    CHECK (kind IN ('not_accepted', 'unexpected_envelope', 'wrong_postamat', 'envelope_refused',
                    'removed_early'));
