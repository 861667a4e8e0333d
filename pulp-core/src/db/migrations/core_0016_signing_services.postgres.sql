-- Signing services (pulpcore's `SigningService`): a script that signs a file with the key
-- whose public part and fingerprint are recorded here. Added by `pulp-server
-- add-signing-service`, read through `/signing-services/`.
CREATE TABLE core_signingservice (
    pulp_id UUID PRIMARY KEY,
    pulp_created TIMESTAMPTZ NOT NULL,
    pulp_last_updated TIMESTAMPTZ NOT NULL,
    pulp_type TEXT NOT NULL,
    name TEXT NOT NULL UNIQUE,
    public_key TEXT NOT NULL,
    pubkey_fingerprint TEXT NOT NULL,
    script TEXT NOT NULL
);
