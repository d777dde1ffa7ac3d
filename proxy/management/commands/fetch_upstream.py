"""manage.py fetch_upstream REQ... | -r requirements.txt | --lockfile pylock.toml|uv.lock"""

from __future__ import annotations

from pathlib import Path

from django.core.files.storage import storages
from django.core.management.base import CommandError, CommandParser
from django.template.defaultfilters import filesizeformat

from accounts.management.base import ChangeCommand
from packages.filenames import parse_filename
from packages.models import File, Origin, Project
from packages.releases import canonical_version
from proxy import downloads, mirror, seeding, upstream


class Command(ChangeCommand):
    help = (
        "Download upstream projects' files into the cache (all of a project's files, or the "
        "pinned version's), for an air-gapped deployment: names and pins come from "
        "requirements, a requirements file or a lock file; nothing is resolved. Local projects "
        "are skipped. Progress on stderr."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("requirements", nargs="*", help="PEP 508 requirements (name==1.0)")
        parser.add_argument("-r", "--requirement", action="append", default=[], type=Path)
        parser.add_argument("--lockfile", action="append", default=[], type=Path)
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be fetched, fetch nothing"
        )

    def handle(self, *args, requirements, requirement, lockfile, dry_run, **options):
        if not upstream.enabled():
            raise CommandError("UPSTREAM_INDEX_URL is not set.")
        try:
            wanted = seeding.from_requirements(list(requirements))
            for path in requirement:
                wanted += seeding.from_requirements(path.read_text().splitlines())
            for path in lockfile:
                wanted += seeding.from_lockfile(path)
        except (seeding.SeedError, OSError) as exc:
            raise CommandError(str(exc)) from None
        wanted = seeding.merge(wanted)
        if not wanted:
            raise CommandError("Name at least one requirement, -r FILE or --lockfile FILE.")
        plan: list[tuple[str, list[tuple[str, int, bool]]]] = []
        failed = 0
        for item in wanted:
            try:
                files = self._files(item, dry_run=dry_run)
            except (upstream.UpstreamError, seeding.SeedError) as exc:
                self.stderr.write(f"{item.name}: {exc}")
                failed += 1
                continue
            if files is not None:
                plan.append((item.name, files))
        todo = [(name, f) for name, files in plan for f in files if not f[2]]
        total = sum(size for _n, (_f, size, _c) in todo)
        cached = sum(1 for _n, files in plan for f in files if f[2])
        verb = "Would fetch" if dry_run else "Fetching"
        self.stdout.write(
            f"{verb} {len(todo)} files ({filesizeformat(total)}) of {len(plan)} projects; "
            f"{cached} already cached."
        )
        if dry_run:
            for name, (filename, size, _cached) in todo:
                self.stdout.write(f"would fetch {name}: {filename} ({filesizeformat(size)})")
            if failed:
                raise CommandError(f"{failed} projects could not be listed.")
            return
        done = 0
        for index, (_name, (filename, size, _cached)) in enumerate(todo, start=1):
            file = File.objects.select_related("release").get(filename=filename)
            try:
                downloads.fill_file(file)
            except (downloads.FillError, upstream.UpstreamError) as exc:
                self.stderr.write(f"[{index}/{len(todo)}] {filename}: FAILED {exc}")
                failed += 1
                continue
            done += size
            percent = 100 * done // total if total else 100
            self.stderr.write(f"[{index}/{len(todo)}] {percent:3d}% {filename}")
        self.stdout.write(f"Fetched {len(todo) - failed} files; {failed} failures.")
        if failed:
            raise CommandError(f"{failed} failures.")

    def _files(self, item: seeding.Wanted, *, dry_run: bool) -> list[tuple[str, int, bool]] | None:
        """(filename, size, already cached) of the files wanted; None for a local project."""
        project = Project.objects.filter(normalized_name=item.name).first()
        if project is not None and project.origin == Origin.LOCAL:
            self.stderr.write(f"{item.name}: a local project, skipped")
            return None
        if dry_run and project is None:
            page = upstream.fetch_page(item.name)
            listed = [(f.filename, f.size or 0, False) for f in page.files]
            return self._pinned(item, listed)
        resolved = mirror.resolve(item.name)
        if resolved.error:
            raise upstream.UpstreamError(resolved.error)
        if resolved.project is None:
            raise seeding.SeedError(resolved.blocked or "not on the upstream index")
        storage = storages["default"]
        rows = File.objects.filter(release__project=resolved.project).order_by("filename")
        listed = [(f.filename, f.size, storage.exists(f.path)) for f in rows]
        return self._pinned(item, listed)

    def _pinned(self, item: seeding.Wanted, listed):
        if not item.versions:
            return listed
        kept = [
            f
            for f in listed
            if canonical_version(str(parse_filename(f[0]).version)) in item.versions
        ]
        if not kept:
            raise seeding.SeedError(f"no files for version {', '.join(sorted(item.versions))}")
        return kept
