"""``tillbridge mappings export|import|versions|activate|rollback``: mapping template versions from the shell.

Templates round-trip to rules/mappings/*.yaml so a version made on the mapping page can be reviewed in
git (``export``), and a reviewed file can be put in force (``import --activate``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from service.app.runtime import Runtime

BY = "cli"


def _runtime() -> Runtime:
    from service.app.factory import create_app

    runtime: Runtime = create_app().extensions["tillbridge"]
    return runtime


def _names(runtime: Runtime, templates: tuple[str, ...]) -> list[str]:
    from service.flows.templates import file_templates, template_names

    known = template_names(runtime)
    for name in templates:
        if name not in known:
            raise click.ClickException(f"no mapping template {name!r}: use one of {', '.join(known)}")
    return list(templates) or file_templates(runtime.rules)


@click.command("export")
@click.argument("templates", nargs=-1)
@click.option("--version", "version", type=int, default=None,
              help="Export this version instead of the active one (one template only).")
def export_command(templates: tuple[str, ...], version: int | None) -> None:
    """Write the active version of each template (default: all with one) to rules/mappings/<name>.yaml."""
    from service.flows.templates import TemplateError
    from service.mappings.versions import export_template
    from service.store import mappings as versions_store
    from service.store.mappings import VersionError

    runtime = _runtime()
    if version is not None and len(templates) != 1:
        raise click.ClickException("--version needs exactly one template name")
    written = 0
    for name in _names(runtime, templates):
        if not templates and versions_store.active(runtime.store, name) is None:
            click.echo(f"{name}: no active version; the file is already what flows use")
            continue
        try:
            path = export_template(runtime, name, version)
        except (TemplateError, VersionError) as exc:
            raise click.ClickException(str(exc)) from None
        written += 1
        click.echo(f"{name}: wrote {path}")
    click.echo(f"{written} template(s) written; review them with `git diff rules/mappings/`")


@click.command("import")
@click.argument("templates", nargs=-1)
@click.option("--activate", is_flag=True, help="Make the imported version the one flows use.")
def import_command(templates: tuple[str, ...], activate: bool) -> None:
    """Store rules/mappings/<name>.yaml (default: every file) as a new version when it differs from the latest."""
    from service.flows.templates import TemplateError
    from service.mappings.versions import import_template

    runtime = _runtime()
    for name in _names(runtime, templates):
        try:
            version, saved = import_template(runtime, name, by=BY, activate=activate)
        except TemplateError as exc:
            raise click.ClickException(str(exc)) from None
        state = "active" if version.active else "not active"
        click.echo(f"{name}: {'saved as' if saved else 'unchanged, already'} version {version.version} ({state})")


@click.command("versions")
@click.argument("template")
def versions_command(template: str) -> None:
    """List the saved versions of TEMPLATE, newest first."""
    from service.store import mappings as versions_store

    runtime = _runtime()
    rows = versions_store.versions(runtime.store, template)
    if not rows:
        click.echo(f"{template}: no saved versions; rules/mappings/{template}.yaml is in force")
    for v in rows:
        mark = "*" if v.active else " "
        click.echo(f"{mark} {v.version:>4}  {v.created_at:%Y-%m-%d %H:%M}  {v.created_by:<16} {v.note}")


@click.command("activate")
@click.argument("template")
@click.argument("version", type=int)
def activate_command(template: str, version: int) -> None:
    """Make VERSION of TEMPLATE the one flows use from their next record on."""
    from service.store import mappings as versions_store
    from service.store.mappings import VersionError

    try:
        done = versions_store.activate(_runtime().store, template, version, by=BY)
    except VersionError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{done.label} is active")


@click.command("rollback")
@click.argument("template")
def rollback_command(template: str) -> None:
    """Activate the version of TEMPLATE that was active before the current one."""
    from service.store import mappings as versions_store
    from service.store.mappings import VersionError

    try:
        done = versions_store.rollback(_runtime().store, template, by=BY)
    except VersionError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"rolled back: {done.label} is active")


@click.command("retrain")
@click.option("--output", type=click.Path(dir_okay=False), default=None,
              help="Where to write the combiner (default models/mapping/combiner.joblib, which the service uses).")
@click.option("--public/--no-public", default=None,
              help="Also learn from the public schema pairs' train split (default: when the bench extra is installed).")
def retrain_command(output: str | None, public: bool | None) -> None:
    """Refit the suggestion engine on its seed set plus every accept/reject made on the mapping page."""
    from service.mappings.suggestions import StoreFeedback
    from training.mapping import train
    from training.mapping_public import PublicDataError, installed

    feedback = StoreFeedback(_runtime().store)
    decisions = len(feedback.all())
    use_public = installed() if public is None else public
    try:
        combiner = train(feedback=feedback.all(), output=output, public=use_public).combiner
    except PublicDataError as exc:
        raise click.ClickException(f"{exc}, or retrain without it: --no-public") from None
    extra = " and the public pairs' train split" if use_public else ""
    click.echo(f"retrained on the seed set{extra} and {decisions} decision(s); threshold {combiner.threshold:.3f}; "
               f"wrote {output or 'models/mapping/combiner.joblib'}")


COMMANDS = (export_command, import_command, versions_command, activate_command, rollback_command, retrain_command)
