"""Messages' texts are encrypted like the other personal data; a password someone else saw
must be changed at the first sign-in (issue 10).

messages.text stays TEXT; what it holds becomes ``v1:`` ciphertext (storage.models.MessageText).

Revision ID: 0013_private_messages
Revises: 0013h
"""

import sqlalchemy as sa
from alembic import op

from storage.crypto import vault

revision = "0013_private_messages"
down_revision = "0013h"
branch_labels = None
depends_on = None

_BATCH = 1000


def _rewrite(change, clear: bool) -> None:
    conn = op.get_bind()
    condition = "text LIKE 'v1:%'" if clear else "text NOT LIKE 'v1:%'"
    last = 0
    while True:
        rows = conn.execute(sa.text(f"SELECT id, text FROM messages WHERE id > :last AND text IS NOT NULL "
                                    f"AND {condition} ORDER BY id LIMIT {_BATCH}"), {"last": last}).all()
        if not rows:
            return
        for row_id, value in rows:
            conn.execute(sa.text("UPDATE messages SET text = :text WHERE id = :id"),
                         {"text": change(value), "id": row_id})
        last = rows[-1][0]


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_change_required", sa.Boolean(), nullable=False,
                                   server_default=sa.text("'0'")))
    _rewrite(vault().encrypt, clear=False)


def downgrade() -> None:
    _rewrite(vault().decrypt, clear=True)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_change_required")
