"""``/api/v1/users``: accounts (admins any; leads volunteers within their scope)."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from sync.accounts import users
from sync.accounts.passwords import MIN_LENGTH
from sync.accounts.users import USERNAME_PATTERN
from sync.forms.fields import Code, Text
from sync.models import ROLES

from .. import db
from ..auth.principal import current, requires
from ..openapi import problems
from ..transaction import transaction

blp = Blueprint("users", __name__, url_prefix="/api/v1/users", description="Users")


class UserIn(Schema):
    username = Text(
        required=True,
        max_length=64,
        validate=validate.Regexp(
            USERNAME_PATTERN, error="Must be 2-64 letters, digits, '.', '_' or '-'."
        ),
    )
    password = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=200),
        metadata={"minLength": MIN_LENGTH},  # checked by sync.accounts.users, for the CLI too
    )
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    org_units = fields.List(Code(), load_default=list, validate=validate.Length(max=100))


class UserOut(Schema):
    username = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    org_units = fields.Function(
        lambda u: sorted(unit.code for unit in u.org_units),
        required=True,
        metadata={"type": "array", "items": {"type": "string"}},
    )


@blp.route("", methods=["POST"])
@requires("admin", "lead")
@blp.arguments(UserIn)
@blp.response(201, UserOut)
@problems(_409="A user with this username exists.")
@transaction
def create(body):
    """Create an account; a lead may create volunteers within the lead's own scope only."""
    session = db.session()
    user = users.create(
        session,
        body["username"],
        body["role"],
        body["org_units"],
        password=body["password"],
        actor=current().user,
    )
    return user
