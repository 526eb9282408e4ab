from __future__ import annotations

from django.urls import path

from trading import alert_views, brackets_views, combo_views, group_views, queue_views, sizing, views

app_name = "trading"
urlpatterns = [
    path("", views.orders, name="orders"),
    path("kill-switch/", views.kill_switch, name="kill_switch"),
    path("alerts/", alert_views.alerts_page, name="alerts"),
    path("alerts/lists/", alert_views.alerts_lists, name="alerts_lists"),
    path("alerts/<int:alert_id>/delete/", alert_views.alert_delete, name="alert_delete"),
    path("order-group/", group_views.panel, name="order_group_panel"),
    path("order-group/reset/", group_views.reset, name="order_group_reset"),
    path("halt/", views.halt_everyone, name="halt_everyone"),
    path("panel/", views.orders_panel, name="orders_panel_all"),
    path("fills/", views.fills_panel, name="fills_panel_all"),
    path("queue/", queue_views.queue_positions_cells, name="queue_positions"),  # issue #15 history
    path("<int:order_id>/cancel/", views.cancel, name="cancel"),
    path("<int:order_id>/amend/", views.amend, name="amend"),
    path("<int:order_id>/row/", views.order_row, name="order_row"),
    path("market/<str:ticker>/ticket/", views.ticket, name="ticket"),
    path("market/<str:ticker>/preview/", views.preview, name="preview"),
    path("market/<str:ticker>/place/", views.place, name="place"),
    path("market/<str:ticker>/cancel-all/", views.cancel_market, name="cancel_market"),
    path("market/<str:ticker>/flatten/", views.flatten, name="flatten"),
    path("desk-settings/", views.desk_settings, name="desk_settings"),
    path("desk-layout/", views.desk_layout, name="desk_layout"),
    path("market/<str:ticker>/orders/", views.orders_panel, name="orders_panel"),
    path("market/<str:ticker>/fills/", views.fills_panel, name="fills_panel"),
    # issue #15: combos and RFQs
    path("combos/", combo_views.page, name="combos"),
    path("combos/request/", combo_views.request_quote, name="combo_request"),
    path("combos/<int:pk>/quotes/", combo_views.quotes, name="combo_quotes"),
    path("combos/<int:pk>/accept/", combo_views.accept, name="combo_accept"),
    path("brackets/", brackets_views.brackets_list, name="brackets_all"),
    path("brackets/<int:bracket_id>/cancel/", brackets_views.bracket_cancel, name="bracket_cancel"),
    path("market/<str:ticker>/brackets/", brackets_views.brackets_list, name="brackets"),
    path("market/<str:ticker>/brackets/form/", brackets_views.bracket_form, name="bracket_form"),
    path("market/<str:ticker>/brackets/place/", brackets_views.bracket_place, name="bracket_place"),
    path("market/<str:ticker>/sizing/", sizing.sizing, name="sizing"),
]
