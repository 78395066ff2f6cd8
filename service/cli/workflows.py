"""``tillbridge workflows list|show|diff|export|import|test|publish|rollback``: workflows from the
command line, the same actions as the /workflows/ page (service/workflows/actions.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

ACTOR = "cli"


def _runtime() -> Any:
    from service.app.factory import create_app

    return create_app().extensions["tillbridge"]


def _fail(exc: Exception) -> click.ClickException:
    problems = getattr(exc, "problems", None)
    if problems:
        return click.ClickException("\n  " + "\n  ".join(problems))
    return click.ClickException(str(exc))


@click.group()
def workflows() -> None:
    """Steps integrators add to the built-in flows: versions, tests on real events, publishing."""


@workflows.command("list")
def list_workflows() -> None:
    """Each workflow, the version live and the draft."""
    from service.workflows import versions
    from service.workflows.actions import EXTENSIBLE

    store = _runtime().store
    for name in sorted(set(EXTENSIBLE) | set(versions.workflows(store))):
        live = versions.live_version(store, name)
        draft = versions.draft(store, name)
        drafted = f"draft version {draft.number} (revision {draft.revision}, {draft.saved_by})" if draft else "no draft"
        click.echo(f"{name:16} live: {f'version {live}' if live else 'built-in steps only'}; {drafted}")


@workflows.command("show")
@click.argument("name")
@click.option("--version", "number", type=int, help="A version (default: the draft, else the live one).")
@click.option("--json", "as_json", is_flag=True)
def show(name: str, number: int | None, as_json: bool) -> None:
    """The flow's steps, its insertion points, and a version's steps at each."""
    from service.workflows import actions

    try:
        described = actions.described(_runtime(), name, number)
    except (ValueError, LookupError) as exc:
        raise _fail(exc) from None
    if as_json:
        click.echo(json.dumps(described, indent=2, default=str))
        return
    click.echo(f"{name}: {described['direction']}; showing version {described['version'] or '(none)'}, "
               f"live {described['live'] or 'built-in steps only'}")
    for row in described["rows"]:
        if "point" in row:
            click.echo(f"   ▸ {row['point']}")
            for step in row["steps"]:
                click.echo(f"       {step['id']:20} {step['type']:7} {step['summary']}")
        else:
            step = row["step"]
            kind = f"effect in {step['effect']}" if step["effect"] else ("binding" if step["binding"] else "pure")
            click.echo(f"   🔒 {step['name']:17} {kind:20} {step['title']}")


@workflows.command("diff")
@click.argument("name")
@click.argument("old", type=int, required=False)
@click.argument("new", type=int, required=False)
def diff_versions(name: str, old: int | None, new: int | None) -> None:
    """What changed from OLD (default: the live version) to NEW (default: the draft), in words."""
    from service.workflows import actions, versions

    runtime = _runtime()
    try:
        lines = actions.changes(runtime, name, old if old is not None else versions.live_version(runtime.store, name),
                                new)
    except (ValueError, LookupError) as exc:
        raise _fail(exc) from None
    for line in lines:
        click.echo(f"- {line}")


@workflows.command("export")
@click.argument("name")
@click.option("--version", "number", type=int, help="Default: the draft, else the live version.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Default: rules/workflows/NAME.yaml under RULES_DIR.")
def export(name: str, number: int | None, output: Path | None) -> None:
    """Write a version to rules/workflows/NAME.yaml for review in git."""
    from service.workflows import actions, files, versions

    runtime = _runtime()
    try:
        version, document = actions.document_of(runtime, name, number)
        state = versions.get(runtime.store, name, version).state if version else ""
    except (ValueError, LookupError) as exc:
        raise _fail(exc) from None
    if document is None:
        raise click.ClickException(f"workflow {name!r} has no version yet: import or build one first")
    path = output or files.path_for(runtime.settings.RULES_DIR, name)
    files.write(document, version=version, state=state, path=path)
    click.echo(f"wrote version {version} ({state}) of {name} to {path}")


@workflows.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace-draft", is_flag=True, help="Replace a draft someone is editing.")
def import_(path: Path, replace_draft: bool) -> None:
    """Read a workflow file and save it as the draft (publish it after testing)."""
    from service.workflows import actions, files, versions

    runtime = _runtime()
    try:
        document = files.read(path)
        name = str((document or {}).get("workflow") or "") if isinstance(document, dict) else ""
        current = versions.draft(runtime.store, name) if name else None
        if current is not None and not replace_draft:
            raise click.ClickException(f"{name} has a draft (version {current.number}, revision {current.revision}, "
                                       f"saved by {current.saved_by}): add --replace-draft to replace it")
        saved = actions.save(runtime, document, base_revision=current.revision if current else None, actor=ACTOR)
    except (ValueError, LookupError) as exc:
        raise _fail(exc) from None
    click.echo(f"saved {path} as the draft of {saved.workflow}: version {saved.number}, revision {saved.revision}")


@workflows.command("test")
@click.argument("name")
@click.option("--version", "number", type=int, help="Default: the draft, else the live version.")
@click.option("--recent", is_flag=True, help="The flow's most recent item.")
@click.option("--item", "item_id", type=int, help="A past item (replay: what would change).")
@click.option("--dead-letter", "dead_letter_id", type=int, help="An open dead letter's payload.")
@click.option("--event", "event_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A JSON file: the webhook envelope or the order.")
@click.option("--all-dead-letters", is_flag=True, help="Every open dead letter of the flow.")
@click.option("--json", "as_json", is_flag=True)
def test(name: str, number: int | None, recent: bool, item_id: int | None, dead_letter_id: int | None,
         event_file: Path | None, all_dead_letters: bool, as_json: bool) -> None:
    """Run a version in a dry run on a real event: every step's input and output, every effect that
    would be sent; nothing is written to Heartland or Magento, nothing is notified."""
    from service.workflows import actions, dry_run

    runtime = _runtime()
    runs: list[dict[str, Any]] = []
    try:
        event = json.loads(event_file.read_text()) if event_file else None
        if all_dead_letters:
            letters = dry_run.open_dead_letters(runtime.store, name)
            if not letters:
                raise click.ClickException(f"no open dead letters of {name}")
            runs = [actions.test(runtime, name, number=number, dead_letter_id=letter.id).to_dict()
                    for letter in letters]
        else:
            runs = [actions.test(runtime, name, number=number, item_id=item_id, dead_letter_id=dead_letter_id,
                                 event=event, recent=recent).to_dict()]
    except (ValueError, LookupError) as exc:
        raise _fail(exc) from None
    if as_json:
        click.echo(json.dumps(runs if all_dead_letters else runs[0], indent=2, default=str))
        return
    for report in runs:
        click.echo(f"{report['workflow']} version {report['version']} on {report['source']} (dry run): "
                   f"{report['state']}: {report['reason']}")
        if report["happened"]:
            click.echo(f"  what happened: {report['happened']['state']}: {report['happened']['reason']}")
        for step in report["steps"]:
            click.echo(f"  {step['status']:6} {step['step']:20} {step['message']}")
        for effect in report["effects"]:
            what = effect.get("message") or effect.get("url") or effect.get("would")
            click.echo(f"  would {effect.get('kind')}: {what} [{effect.get('would') if effect.get('kind') != 'built-in' else effect.get('system')}]")


@workflows.command("publish")
@click.argument("name")
def publish(name: str) -> None:
    """Publish the draft: new events run it; items already started keep their version."""
    from service.workflows import actions

    try:
        version = actions.publish(_runtime(), name, actor=ACTOR)
    except (ValueError, LookupError) as exc:
        raise _fail(exc) from None
    click.echo(f"published version {version.number} of {name}: new events run it")


@workflows.command("rollback")
@click.argument("name")
@click.option("--to", "to", type=int, help="A published version (0: the built-in steps alone).")
def rollback(name: str, to: int | None) -> None:
    """Make an earlier published version live again (the one before the live one by default)."""
    from service.workflows import actions

    try:
        live = actions.rollback(_runtime(), name, actor=ACTOR, to=to)
    except (ValueError, LookupError) as exc:
        raise _fail(exc) from None
    click.echo(f"{name} now runs {f'version {live}' if live else 'the built-in steps alone'} for new events")
