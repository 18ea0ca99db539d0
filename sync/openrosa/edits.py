"""Where the void of an edit is filed, read from what is stored.

Collect sends an edit as a new instance naming the one it replaces (``deprecatedID``). The
void of the replaced event must lie where that event lies, or the push path refuses it as
outside its org unit; the volunteer may have corrected exactly the ward or the campaign. A
resend of the edit must send the same void whatever arrived in between, so the place of a void
already stored wins over the target's.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.forms import definitions
from sync.models import Campaign, OrgUnit, Submission
from sync.openrosa.instances import Instance, edit_void_id


def void_place(session: Session, instance: Instance) -> tuple[str, str] | None:
    """(campaign code, org unit code) for the void of ``instance``'s edit, or None when it is
    not an edit of an event, or neither the void nor its target is stored (then the void goes
    where the instance goes, and waits for its target as any void does)."""
    if instance.deprecated_id is None:
        return None
    if definitions.BY_KEY[(instance.form, instance.form_version)].kind != "event":
        return None
    for sid in (edit_void_id(instance.instance_id), instance.deprecated_id):
        found = session.execute(
            select(Campaign.code, OrgUnit.code)
            .select_from(Submission)
            .join(Campaign, Campaign.id == Submission.campaign_id)
            .join(OrgUnit, OrgUnit.id == Submission.org_unit_id)
            .where(Submission.id == sid)
        ).first()
        if found is not None:
            return (found[0], found[1])
    return None
