"""Every watch is on a list (0006 filled them in; a separate migration, so PostgreSQL runs the ALTER outside the
transaction that updated the rows)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("markets", "0006_watchlists_fill")]

    operations = [
        migrations.AlterField(
            model_name="watch",
            name="watchlist",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="watches", to="markets.watchlist"
            ),
        ),
        migrations.AddConstraint(
            model_name="watch",
            constraint=models.UniqueConstraint(fields=("watchlist", "market"), name="unique_watch_per_list"),
        ),
    ]
