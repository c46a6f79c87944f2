"""The training form explains each hyperparameter (issue 15, item 9)."""

from exoguard.web.pages.research import model_forms


def test_every_hyperparameter_of_the_training_form_has_help() -> None:
    forms = model_forms()
    assert "gbm" in forms
    for kind, form in forms.items():
        without = [f.name for f in form["fields"] if not f.hint.strip()]
        assert without == [], kind
    gbm = {f.name: f.hint for f in forms["gbm"]["fields"]}
    assert gbm["max_depth"] == "Deepest level of a tree; -1 for no limit."
