"""The demo campaign: Thuận An city's "60 days and nights" VNeID drive of 2023.

- ``campaign``: the province, city and ten wards, the campaign and its targets, the users.
- ``month``: a month of the volunteers' weekends made up as forms and pushes (pure, seeded).
- ``loader``: the volunteers' phones enrolled, and the month pushed through the push path.
- ``words``: the Vietnamese the forms are written in.
"""

from .campaign import (
    CAMPAIGN,
    CITY,
    PROVINCE,
    VOLUNTEERS,
    WARDS,
    Credential,
    enrolment_codes,
    is_loaded,
    load,
    ward_lead,
)
from .loader import Loaded, is_complete, load_month, load_wanted, wanted
from .month import SEED, WAVE, Month, plan

__all__ = [
    "CAMPAIGN",
    "CITY",
    "PROVINCE",
    "SEED",
    "VOLUNTEERS",
    "WARDS",
    "WAVE",
    "Credential",
    "Loaded",
    "Month",
    "enrolment_codes",
    "is_complete",
    "is_loaded",
    "load",
    "load_month",
    "load_wanted",
    "plan",
    "wanted",
    "ward_lead",
]
