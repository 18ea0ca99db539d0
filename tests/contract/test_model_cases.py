"""Hand-picked scenarios the random ones reach rarely, checked against the model the same way."""

from __future__ import annotations

import pytest
from model import Model
from scenarios import Correct, Form, Push, Scenario
from test_progress_model import PARENTS, Run, _forget, phones  # noqa: F401 - the fixture

CITIZEN = "079100000003"  # a W1 citizen


def _activation(fid: int, status: str, **form) -> Form:
    return Form(
        f"00000000-0000-4000-8000-{fid:012d}",
        "activation",
        "W1",
        {"citizen_id": CITIZEN, "status": status},
        **form,
    )


CASES = {
    "a report after a correction moves on from it, through a later correction of fields": [
        Push("a", [_activation(1, "installed")]),
        Correct(0, {"status": "visited"}),
        Push("a", [_activation(2, "activated", ahead_hours=30)]),
        Correct(0, {"note": "đã gọi"}),
    ],
}


@pytest.mark.parametrize("name", list(CASES))
def test_case(client, world, phones, engine, name):  # noqa: F811
    _forget(engine)
    scenario = Scenario({}, CASES[name])
    run = Run(client, world, phones, engine, Model(PARENTS, scenario.targets))
    for step in scenario.steps:
        run.step(step)
    run.check_all()
