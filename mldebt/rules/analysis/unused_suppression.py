from __future__ import annotations

from mldebt.rules.base import Invalid, MetaRule


class UnusedSuppression(MetaRule):
    """
    ## What it does
    Flags a `# mldebt: ignore[...]` or `# mldebt: fixme[...]` comment that suppresses no
    finding: the debt it excused is gone, or the comment sits on the wrong line.

    A directive that names only rules that did not run on the file (not selected, or off
    for tests) is not reported: mldebt cannot tell whether it would be used.

    ## Why is this bad?
    Stale suppressions hide the next real finding on that line and mislead readers about
    what debt the code carries. Like ruff's `RUF100`, mldebt keeps them honest.

    ## Example
    ```python
    THRESHOLD = 0.5  # mldebt: ignore[hard-coded-threshold] -- named constant already
    ```

    ## Use instead
    Delete the comment.

    ## Options
    This rule has no options.

    ## References
    - Sculley et al., "Hidden Technical Debt in Machine Learning Systems", NeurIPS 2015.
    """

    VALID = [
        "import numpy as np\nTHRESHOLD = 0.73\n",
        # names a rule that is not the one that fired here; still the directive is used
        "def f(clf, X):\n    probs = clf.predict_proba(X)\n"
        "    return probs > 0.73  # mldebt: ignore[MLD301] -- calibrated on 2024 data\n",
    ]
    INVALID = [
        Invalid("x = 1  # mldebt: ignore[MLD301] -- not needed\n", line=1, column=8),
        Invalid("def f():\n    return 2  # mldebt: fixme[hard-coded-threshold] -- later\n", line=2),
        Invalid("y = 3  # mldebt: ignore -- everything\n", line=1),
    ]
