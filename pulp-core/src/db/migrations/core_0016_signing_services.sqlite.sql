-- Signing services (pulpcore's `SigningService`): a script that signs a file with the key
-- whose public part and fingerprint are recorded here. Added by `pulp-server
-- add-signing-service`, read through `/signing-services/`.
CREATE TABLE core_signingservice (
    pulp_id TEXT PRIMARY KEY,
    pulp_created TEXT NOT NULL,
    pulp_last_updated TEXT NOT NULL,
    pulp_type TEXT NOT NULL,
    name TEXT NOT NULL UNIQUE,
    public_key TEXT NOT NULL,
    pubkey_fingerprint TEXT NOT NULL,
    script TEXT NOT NULL
);
