from __future__ import annotations

from mldebt.rules.base import Invalid, MetaRule


class MalformedSuppression(MetaRule):
    """
    ## What it does
    Flags a `# mldebt:` comment that mldebt cannot understand: an unknown directive
    (`ignor`, `noqa`), an unclosed or empty rule list, or a rule code or name that does not
    exist.

    ## Why is this bad?
    A directive with a typo suppresses nothing, silently: the author believes the finding is
    handled while it still fails CI, or believes a rule is silenced that never was.

    ## Example
    ```python
    x = probs > 0.7  # mldebt: ignore[MLD999] -- typo in the code
    ```

    ## Use instead
    ```python
    x = probs > 0.7  # mldebt: ignore[MLD301] -- threshold agreed with product
    ```
    `mldebt rules` lists every code and name.

    ## Options
    This rule has no options.

    ## References
    - Sculley et al., "Hidden Technical Debt in Machine Learning Systems", NeurIPS 2015.
    """

    VALID = [
        "# mldebt is a linter; this comment only mentions it\nx = 1\n",
        "x = 1  # see the mldebt docs\n",
    ]
    INVALID = [
        Invalid("x = 1  # mldebt: ignore[MLD999] -- typo\n", line=1, message_contains="MLD999"),
        Invalid("x = 1  # mldebt: ignor[MLD301] -- typo\n", line=1, message_contains="unknown directive"),
        Invalid("x = 1  # mldebt: ignore[MLD301 -- unclosed\n", line=1),
    ]
