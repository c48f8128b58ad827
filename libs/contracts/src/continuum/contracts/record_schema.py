"""What one record of a pipeline's source topic looks like: the ``schema:`` section.

Features (numeric with optional bounds, categorical with an optional closed set), the
target and its label domain, the event time and an optional entity id. The record
contract (``record_check``) turns this into per-column rules that ingest and serving
share; :class:`~continuum.contracts.pipeline_spec.PipelineSpec` holds it as ``schema``.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)


class SpecModel(BaseModel):
    """Strict base: unknown keys in a spec are errors, not silently ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


ColumnName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]


class NumericFeature(SpecModel):
    """A numeric column, with optional bounds."""

    name: ColumnName
    type: Literal["numeric"] = "numeric"
    min: float | None = None
    max: float | None = None
    nullable: bool = True

    @model_validator(mode="after")
    def _bounds_are_ordered(self) -> Self:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class CategoricalFeature(SpecModel):
    """A categorical column; ``values`` (if given) is the closed set allowed."""

    name: ColumnName
    type: Literal["categorical"] = "categorical"
    values: list[str] | None = None
    nullable: bool = True


Feature = Annotated[NumericFeature | CategoricalFeature, Field(discriminator="type")]


ClassLabel = Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)]
"""A class label: an integer that fits the int64 label column (``true`` is not ``1`` here)."""

DEFAULT_CLASSES: tuple[int, int] = (0, 1)
"""The classes of a binary target whose spec does not name them."""


class Target(SpecModel):
    """The label column and its domain. Absent from a record means 'not labelled yet'.

    Binary classification: ``classes`` are the two label values (default ``[0, 1]``).
    scikit-learn sorts them, so the larger is the positive class (``f1``, ``roc_auc``).
    Only integers for now: string classes are not supported yet (batches store the label
    as int64). Regression: optional inclusive ``min``/``max``. Ingest refuses a label
    outside this domain, so one bad producer cannot make every later training run fail.
    """

    name: ColumnName
    classes: list[ClassLabel] | None = Field(
        default=None, description="Binary classification only: the two classes (default [0, 1])."
    )
    min: float | None = Field(
        default=None, allow_inf_nan=False, description="Regression only: lowest label allowed."
    )
    max: float | None = Field(
        default=None, allow_inf_nan=False, description="Regression only: highest label allowed."
    )

    @field_validator("classes")
    @classmethod
    def _two_distinct_classes(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and (len(value) != 2 or value[0] == value[1]):
            raise ValueError(f"classes must be exactly two distinct integers, got {value}")
        return value

    @field_validator("max")
    @classmethod
    def _max_not_below_min(cls, value: float | None, info: ValidationInfo) -> float | None:
        low = info.data.get("min")
        if value is not None and low is not None and low > value:
            raise ValueError(f"min ({low}) is greater than max ({value})")
        return value

    @property
    def binary_classes(self) -> tuple[int, int]:
        """The two classes of a binary target: ``classes``, else :data:`DEFAULT_CLASSES`."""
        return (self.classes[0], self.classes[1]) if self.classes else DEFAULT_CLASSES


class RecordSchema(SpecModel):
    """What one record on the source topic looks like."""

    features: list[Feature] = Field(min_length=1)
    target: Target
    event_time: ColumnName = Field(description="ISO-8601 time the event happened (orders data).")
    entity_id: ColumnName | None = Field(default=None, description="Optional row identity.")

    @model_validator(mode="after")
    def _names_are_unique(self) -> Self:
        names = [f.name for f in self.features] + [self.target.name, self.event_time]
        if self.entity_id:
            names.append(self.entity_id)
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"column names used twice: {dupes}")
        return self

    @property
    def feature_names(self) -> list[str]:
        """Feature column names in spec order (the model's input order)."""
        return [f.name for f in self.features]
