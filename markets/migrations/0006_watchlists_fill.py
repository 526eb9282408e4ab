"""Every existing watch goes into its trader's first list, "Watchlist"."""

from django.db import migrations


def into_default_lists(apps, schema_editor):
    WatchList = apps.get_model("markets", "WatchList")
    Watch = apps.get_model("markets", "Watch")
    for user_id in Watch.objects.values_list("user_id", flat=True).distinct():
        watchlist, _ = WatchList.objects.get_or_create(user_id=user_id, name="Watchlist")
        Watch.objects.filter(user_id=user_id).update(watchlist=watchlist)


class Migration(migrations.Migration):
    dependencies = [("markets", "0005_watchlists")]

    operations = [migrations.RunPython(into_default_lists, migrations.RunPython.noop)]
