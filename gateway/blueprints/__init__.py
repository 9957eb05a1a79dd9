"""HTTP blueprints; each route is thin: parse, verify, hand on."""
