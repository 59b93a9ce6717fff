import django.db.models.deletion
from django.db import migrations, models


def first_versions(apps, schema_editor):
    """Each existing program's current configuration becomes its first kept version."""
    Program = apps.get_model("programs", "Program")
    ProgramVersion = apps.get_model("programs", "ProgramVersion")
    for program in Program.objects.all().iterator():
        ProgramVersion.objects.create(
            merchant_id=program.merchant_id, program=program, number=program.version,
            config=program.config, created_at=program.updated_at, actor_kind="system",
            actor_label="system",
        )


class Migration(migrations.Migration):

    dependencies = [
        ('programs', '0001_initial'),
        ('tenancy', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='ProgramVersion',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('number', models.PositiveIntegerField(verbose_name='version')),
                ('config', models.JSONField(verbose_name='configuration')),
                ('created_at', models.DateTimeField(verbose_name='saved')),
                ('actor_kind', models.CharField(max_length=20)),
                ('actor_label', models.CharField(max_length=200, verbose_name='saved by')),
                ('restored_from', models.PositiveIntegerField(blank=True, null=True)),
                ('merchant', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='program_versions', to='tenancy.merchant')),
                ('program', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='versions', to='programs.program')),
            ],
            options={
                'verbose_name': 'program version',
                'verbose_name_plural': 'program versions',
                'constraints': [models.UniqueConstraint(fields=('program', 'number'), name='program_version_unique')],
            },
        ),
        migrations.RunPython(first_versions, migrations.RunPython.noop),
    ]
