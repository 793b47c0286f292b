from __future__ import annotations

from mldebt.rules.base import Invalid, MetaRule


class SuppressionWithoutReason(MetaRule):
    """
    ## What it does
    Flags a suppression comment that gives no reason after the rule list.

    ## Why is this bad?
    A suppression is a decision about debt. Without the why, the next reader cannot tell a
    deliberate choice from a shortcut, and nobody can review it in a pull request.

    ## Example
    ```python
    if probs > 0.73:  # mldebt: ignore[MLD301]
        ...
    ```

    ## Use instead
    ```python
    if probs > 0.73:  # mldebt: ignore[MLD301] -- threshold fixed by the 2024 audit
        ...
    ```

    ## Options
    This rule has no options.

    ## References
    - Sculley et al., "Hidden Technical Debt in Machine Learning Systems", NeurIPS 2015.
    """

    VALID = [
        "def f(clf, X):\n    probs = clf.predict_proba(X)[:, 1]\n"
        "    return probs > 0.73  # mldebt: ignore[MLD301] -- fixed by contract\n",
    ]
    INVALID = [
        Invalid("def f(clf, X):\n    probs = clf.predict_proba(X)[:, 1]\n"
                "    return probs > 0.73  # mldebt: ignore[MLD301]\n", line=3),
    ]
