"""The first hub schema: trainers, room and PC tokens, logins, uploads, sessions, their files, comments."""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trainers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "room_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("room", sa.String(80), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("revoked_at", sa.String(32)),
    )
    op.create_table(
        "pc_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("room_token_id", sa.Integer, sa.ForeignKey("room_tokens.id"), nullable=False),
        sa.Column("trainee", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "logins",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("trainer_id", sa.Integer, sa.ForeignKey("trainers.id"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_table(
        "uploads",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("session_key", sa.String(400), nullable=False),
        sa.Column("pc_token_id", sa.Integer),
        sa.Column("manifest", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("session_key", "pc_token_id", name="uq_upload_key_pc"),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("session_key", sa.String(400), nullable=False, unique=True),
        sa.Column("folder_name", sa.String(200), nullable=False),
        sa.Column("pc_token_id", sa.Integer),
        sa.Column("room", sa.String(80)),
        sa.Column("trainee", sa.String(200), nullable=False),
        sa.Column("scenario_id", sa.String(200), nullable=False),
        sa.Column("started_at", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("overall", sa.Integer),
        sa.Column("assessment", sa.Text),
        sa.Column("shared", sa.Boolean, nullable=False),
        sa.Column("stored_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "session_files",
        sa.Column("session_id", sa.String(32), sa.ForeignKey("sessions.id"), primary_key=True),
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
    )
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.String(32), sa.ForeignKey("sessions.id"), nullable=False),
        sa.Column("trainer_id", sa.Integer, sa.ForeignKey("trainers.id"), nullable=False),
        sa.Column("check_id", sa.String(40)),
        sa.Column("verdict", sa.Boolean),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    for table in ("comments", "session_files", "sessions", "uploads", "logins", "pc_tokens", "room_tokens", "trainers"):
        op.drop_table(table)
