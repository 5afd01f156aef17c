-- Jobs claimed with leases (server/job_runner.h, store/entities.h JobLease):
--  * owner, lease_expires: the replica running a RUNNING job and, by the
--    store's clock (ms since the epoch), until when; an expired lease makes
--    the job claimable by any replica;
--  * cancel_requested: CancelJob asked the owner to stop the job (it sees
--    the flag when it renews the lease);
--  * jobs_claimable: the claim's scan over the QUEUED and RUNNING jobs only.

ALTER TABLE jobs ADD COLUMN owner text;
ALTER TABLE jobs ADD COLUMN lease_expires bigint;
ALTER TABLE jobs ADD COLUMN cancel_requested integer NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1));
CREATE INDEX jobs_claimable ON jobs (job_id) WHERE state IN ('QUEUED', 'RUNNING');
