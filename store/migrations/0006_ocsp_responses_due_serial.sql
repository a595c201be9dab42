-- The updater walks the responses due for re-signing in (thisUpdate,
-- serial) order with a cursor, so that it can read the next page while it
-- signs and writes the one before (issue 17): the serial joins the index.
CREATE INDEX ocsp_responses_due_walk ON ocsp_responses (ca_id, hash_alg, this_update, serial);
DROP INDEX ocsp_responses_due;
