"""API keys kept in the store: made with `secrets`, shown once, kept only as a SHA-256, with scopes,
an expiry, rotation with a grace period, revocation and use counts. `vigil keys ...` manages them;
vigil.web.auth checks them through `StoreKeyBook`."""
