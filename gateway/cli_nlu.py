"""``ikhtiyar nlu``: the understanding models (retrain the category model with officers'
corrections)."""

from __future__ import annotations

import sys

import click


@click.group()
def nlu() -> None:
    """The conversation engine's trained understanding."""


@nlu.command("retrain")
def retrain() -> None:
    """Retrain the category model with officers' corrections (complaints recategorised or
    transferred), print the accuracy of the current model and of the retrained one on
    held-out examples, and keep the retrained one only when it is better: the engine reads it
    on its next start. Exit code 1 when not better."""
    from conversation import retrain as learning
    from conversation.knowledge import Knowledge
    from gateway.cli import _runtime

    rt = _runtime()
    with rt.sessions() as session:
        found = learning.corrections(session)
        extra = Knowledge.load(session, trained=False).category_examples  # names and keywords
    if not found:
        click.echo("no corrections by officers yet: nothing to learn, the model is unchanged")
        sys.exit(1)
    from conversation.classifier import retrained

    cache_dir = rt.settings.var_dir / "nlu"
    outcome, train = learning.evaluate(found, extra, retrained(cache_dir)[0])
    # Counts and accuracy only: the descriptions are personal data and stay in the database.
    click.echo(f"corrections: {len(found)} ({outcome.trained_on} to train on, {outcome.held_out} held out)")
    click.echo(f"held-out examples: {outcome.test_size}")
    click.echo(f"accuracy before: {outcome.before:.1%}")
    click.echo(f"accuracy after:  {outcome.after:.1%}")
    if not outcome.better:
        click.echo("refused: the retrained model is not better; nothing was written", err=True)
        sys.exit(1)
    version = learning.install(cache_dir, train, outcome, extra)
    click.echo(f"kept: model version {version} with {outcome.trained_on} corrections in {cache_dir}; "
               "the conversation engine uses it from its next start")
