"""Typed configurations: one pydantic model per configuration validates, documents and serialises it.

A base utility like ``io``: it imports no package layer. :class:`TypedConfig` turns pydantic's validation report
into one :class:`~surrogate_nas.errors.SurrogateNASError` line that names the field and the value, whether the
values come from Python, a YAML file or a checkpoint's ``config.json``. Integers are integers (``True`` and ``2.5``
are refused, a NumPy integer is accepted), numbers are finite, unknown fields are refused.
"""

from __future__ import annotations

import numbers
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from .errors import SurrogateNASError


def _integral(v: Any) -> Any:
    if isinstance(v, bool):
        raise ValueError("must be an integer, not true/false")
    return int(v) if isinstance(v, numbers.Integral) else v


def _real(v: Any) -> Any:
    if isinstance(v, bool):
        raise ValueError("must be a number, not true/false")
    return float(v) if isinstance(v, numbers.Real) else v


#: An integer field: Python or NumPy integers; booleans, floats and strings are refused.
Int = Annotated[int, BeforeValidator(_integral)]
#: A number field: any finite real (integers included); booleans and strings are refused.
Float = Annotated[float, BeforeValidator(_real)]
#: The largest seed every seeded library (NumPy, torch, scikit-learn) accepts.
MAX_SEED = 2**32 - 1
#: A seed field: an integer in 0..MAX_SEED.
Seed = Annotated[Int, Field(ge=0, le=MAX_SEED)]


def _nonblank(v: str) -> str:
    if not v.strip():
        raise ValueError("must be a non-empty string")
    return v


#: A name field: a string that is not blank.
Name = Annotated[str, AfterValidator(_nonblank)]


def one_line(what: str, error: ValidationError) -> str:
    """The first problem of a pydantic report as ``what: field: problem, got value``."""
    err = error.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return f"{what}: unknown field {loc!r}"
    if err["type"] == "missing":
        return f"{what}: field {loc!r} is missing"
    if not loc:  # a check across fields: its message says it all
        return f"{what}: {msg}"
    value = repr(err["input"])
    return f"{what}: {loc}: {msg[:1].lower() + msg[1:]}, got {value[:80]}"


class TypedConfig(BaseModel):
    """Base of the package's configurations: strict, closed (unknown fields refused), checked on assignment."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True, allow_inf_nan=False)
    #: How errors name the configuration ("meta config: ...").
    what: ClassVar[str] = "config"
    #: The error a bad value raises (a layer's own subclass, e.g. SearchError).
    error: ClassVar[type[SurrogateNASError]] = SurrogateNASError

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as e:
            raise self.error(one_line(self.what, e)) from None

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except ValidationError as e:
            raise self.error(one_line(self.what, e)) from None

    def to_dict(self) -> dict:
        return self.model_dump()

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(cls.model_fields)


__all__ = ["MAX_SEED", "Float", "Int", "Name", "Seed", "TypedConfig", "one_line"]
