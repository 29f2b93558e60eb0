"""Identity: tenants, schools, users, role grants, sessions; signs tokens and publishes its JWKS."""
