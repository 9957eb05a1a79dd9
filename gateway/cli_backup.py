"""``ikhtiyar backup`` and ``ikhtiyar restore``: the database and the var folder's files in
one archive (gateway/backup.py does the work)."""

from __future__ import annotations

from pathlib import Path

import click


def _runtime(**options):
    from gateway.cli import _runtime as runtime  # the cli module registers these commands

    return runtime(**options)


@click.command()
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="The archive to write (tar.gz).")
def backup(out: str) -> None:
    """The database and the var folder's files (attachments, scans, recordings) in one archive."""
    from gateway.backup import BackupError
    from gateway.backup import backup as write_backup

    rt = _runtime()
    try:
        manifest = write_backup(rt, Path(out))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"backup of the {manifest['dialect']} database and {', '.join(manifest['folders']) or 'no files'} "
               f"written to {out}")


@click.command()
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
def restore(archive: str) -> None:
    """Restore a backup into the configured database and var folder (stop the other processes
    first); checks that the data key in use can read it."""
    from gateway.backup import BackupError
    from gateway.backup import restore as read_backup

    rt = _runtime(check_schema=False)  # an empty database is what a restore is for
    try:
        read_backup(rt, Path(archive))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("restored; the data key decrypts the restored data")
