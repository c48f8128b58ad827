"""The ``feature_views:`` section: what a spec may declare and the columns it adds."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from continuum.contracts import entity_key, parse_spec_yaml

SPEC = """
name: demo
source_topic: demo.events
task: regression
schema:
  event_time: ts
  entity_id: user
  target: {name: y}
  features:
    - {name: x, type: numeric}
    - {name: shop, type: categorical}
model: {estimator: Ridge}
promotion: {metric: rmse}
feature_views:
  - name: user_recent
    entity: user
    window_events: 5
    features:
      - {name: user_x_mean, function: mean, column: x, default: 0}
      - {name: user_events, function: count}
      - {name: user_last_shop, function: latest, column: shop}
  - name: shop_day
    entity: shop
    window_seconds: 86400
    features:
      - {name: shop_y_sum, function: sum, column: y}
"""


def test_views_add_model_inputs_in_spec_order() -> None:
    spec = parse_spec_yaml(SPEC)
    assert spec.model_input_columns == [
        "x",
        "shop",
        "user_x_mean",
        "user_events",
        "user_last_shop",
        "shop_y_sum",
    ]
    assert spec.view_feature_kinds == {
        "user_x_mean": "numeric",
        "user_events": "numeric",
        "user_last_shop": "categorical",
        "shop_y_sum": "numeric",
    }
    count = spec.feature_views[0].features[1]
    assert count.empty_value == 0.0
    assert spec.feature_views[0].features[0].empty_value == 0.0
    assert spec.feature_views[0].source_columns == ["x", "shop"]


def test_a_spec_without_views_has_none() -> None:
    head = SPEC.split("feature_views:")[0]
    spec = parse_spec_yaml(head)
    assert spec.feature_views == []
    assert spec.model_input_columns == ["x", "shop"]


@pytest.mark.parametrize(
    ("change", "location", "message"),
    [
        (("entity: user", "entity: nobody"), ("feature_views", 0, "entity"), "not a schema"),
        (("entity: user", "entity: y"), ("feature_views", 0, "entity"), "not a schema"),
        (("column: x, default", "column: nope, default"), (0, "features", 0, "column"), "nope"),
        (("mean, column: x", "mean, column: shop"), (0, "features", 0, "column"), "numeric"),
        (("name: user_events", "name: x"), (0, "features", 1, "name"), "clashes"),
        (("name: shop_y_sum", "name: user_events"), (1, "features", 0, "name"), "clashes"),
        (("function: count}", "function: count, default: 1}"), (0, "features", 1), "count"),
        (("function: sum, column: y", "function: sum"), (1, "features", 0, "column"), "needs"),
        (("column: shop}", "column: shop, default: 1}"), (0, "features", 2), "categorical"),
        (("name: shop_day", "name: user_recent"), ("feature_views", 1, "name"), "twice"),
        (("window_events: 5", "window_events: 0"), ("feature_views", 0, "window_events"), ""),
    ],
)
def test_bad_views_are_refused_naming_the_field(
    change: tuple[str, str], location: tuple[object, ...], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_spec_yaml(SPEC.replace(*change, 1))
    errors = caught.value.errors()
    assert any(
        "".join(map(str, location)) in "".join(map(str, e["loc"])) and message in e["msg"]
        for e in errors
    ), errors


def test_entity_keys_agree_for_ints_and_integral_floats() -> None:
    assert entity_key(7) == entity_key(7.0) == "7"
    assert entity_key(7.5) == "7.5"
    assert entity_key("u1") == "u1"
