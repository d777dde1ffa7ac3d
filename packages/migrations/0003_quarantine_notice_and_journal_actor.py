"""A quarantine's public notice apart from the staff's reason; the journal's author as text.

1. `lifecycle_note` becomes `quarantine_reason`: it held the moderator's reason, which the
   project page used to show to everyone; it is now the staff's alone.
2. `quarantine_notice` is new; projects quarantined now get the neutral default notice.
3. `JournalEntry.submitted_by_name` is filled from the user of each existing row, in one UPDATE.
"""

from django.conf import settings
from django.db import migrations, models
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

# Kept here as it was when this migration was written (packages.moderation may change it).
DEFAULT_QUARANTINE_NOTICE = (
    "The index administrators are reviewing this project. Its files cannot be installed "
    "until the review is over."
)


def fill(apps, schema_editor):
    Project = apps.get_model("packages", "Project")
    JournalEntry = apps.get_model("packages", "JournalEntry")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    Project.objects.filter(lifecycle_status="quarantine-enter").update(
        quarantine_notice=DEFAULT_QUARANTINE_NOTICE
    )
    JournalEntry.objects.filter(submitted_by__isnull=False).update(
        submitted_by_name=Coalesce(
            Subquery(User.objects.filter(pk=OuterRef("submitted_by_id")).values("username")[:1]),
            Value(""),
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("packages", "0002_search_indexes"),
    ]

    operations = [
        migrations.RenameField(
            model_name="project", old_name="lifecycle_note", new_name="quarantine_reason"
        ),
        migrations.AlterField(
            model_name="project",
            name="quarantine_reason",
            field=models.TextField(
                blank=True, help_text="Staff only: why it was last quarantined"
            ),
        ),
        migrations.AddField(
            model_name="project",
            name="quarantine_notice",
            field=models.TextField(
                blank=True,
                help_text="Shown on the project's page and to its owners while quarantined",
            ),
        ),
        migrations.AddField(
            model_name="journalentry",
            name="submitted_by_name",
            field=models.CharField(blank=True, max_length=150),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
