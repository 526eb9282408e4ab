"""Named watchlists (schema; 0006 fills in the existing watches, 0007 makes the list required: on PostgreSQL a
migration that adds a foreign key and updates its rows fails with pending trigger events)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("markets", "0004_series_tags"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="WatchList",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=40)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("selected_at", models.DateTimeField(auto_now_add=True)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="watchlists",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["created_at", "pk"],
                "constraints": [
                    models.UniqueConstraint(fields=("user", "name"), name="unique_watchlist_name_per_user")
                ],
            },
        ),
        migrations.RemoveConstraint(model_name="watch", name="unique_watch_per_user"),
        migrations.AddField(
            model_name="watch",
            name="watchlist",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="watches",
                to="markets.watchlist",
            ),
        ),
    ]
