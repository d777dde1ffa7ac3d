from django.db import migrations, models


def mark_scoped(apps, schema_editor):
    """Tokens that list projects today are scoped. (A scoped token whose projects were all
    deleted before this migration cannot be told from a user-wide one any more.)"""
    ApiToken = apps.get_model("accounts", "ApiToken")
    ApiToken.objects.filter(projects__isnull=False).update(scoped=True)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_staff_given_addresses")]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="scoped",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.RunPython(mark_scoped, migrations.RunPython.noop),
    ]
