"""Storage: models, sessions, migrations, personal-data encryption and the complaint lifecycle."""
