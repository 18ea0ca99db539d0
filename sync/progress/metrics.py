"""The progress metrics of the contract, in the order reports show them."""

METRICS: tuple[str, ...] = (
    "citizens_reached",
    "no_smartphone",
    "accounts_installed",
    "accounts_activated",
    "refused",
    "ineligible",
    "help_events",
    "households_helped",
    "volunteer_hours",
    "gifts_delivered",
    "gift_value_vnd",
    "suspected_doubles",
    "open_conflicts",
)

# Counters are integers; a metric with a scale is stored in 1/scale units (centi-hours), so
# sums stay exact.
SCALE: dict[str, int] = {"volunteer_hours": 100}

# The review items open_conflicts counts: a lead's decision is owed on them. Suspected doubles
# have their own metric.
COUNTED_REVIEWS = ("field_conflict", "status_conflict")
